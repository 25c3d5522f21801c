package analytics

import (
	"fmt"
	"math"
	"strconv"

	"github.com/timeback/timeback-go/facts"
)

// Chart geometry, in SVG user units. The SVG scales to the page width
// through its viewBox, so one geometry serves phones and desktops.
const (
	chartWidth  = 640.0
	chartHeight = 220.0
	padLeft     = 44.0
	padRight    = 8.0
	padTop      = 10.0
	padBottom   = 28.0
)

// chart is the template data of one SVG chart.
type chart struct {
	ID     string // element id and CSS class prefix
	Title  string
	Unit   string
	Width  float64
	Height float64
	Ticks  []tick
	Labels []label
	Rects  []rect
	Points []point
	Line   string // polyline points of Points
	Legend []legendItem
	Empty  bool
}

type tick struct {
	Y     float64
	Label string
}

type label struct {
	X    float64
	Text string
}

// rect is one bar or one stacked segment. Date, Category and Value are
// written as data attributes, so that tests and scrapers read the values
// the chart shows.
type rect struct {
	X, Y, W, H float64
	Class      string
	Date       string
	Category   string
	Value      string
	Title      string
}

type point struct {
	X, Y  float64
	Date  string
	Value string
	Title string
}

type legendItem struct {
	Class string
	Label string
}

func plotHeight() float64 { return chartHeight - padTop - padBottom }

// scale returns a round maximum at or above v for the y axis, and its
// ticks.
func scale(v float64) (float64, []tick) {
	if v <= 0 {
		v = 1
	}
	step := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= 4*step*m {
			step *= m
			break
		}
	}
	top := math.Ceil(v/step) * step
	var ticks []tick
	for y := 0.0; y <= top+step/2; y += step {
		ticks = append(ticks, tick{Y: padTop + plotHeight()*(1-y/top), Label: formatNumber(y)})
	}
	return top, ticks
}

func formatNumber(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// slots returns the x position and width of day i's bar among n.
func slots(n int) func(i int) (x, w float64) {
	plotWidth := chartWidth - padLeft - padRight
	slot := plotWidth / float64(max(n, 1))
	return func(i int) (float64, float64) { return padLeft + slot*float64(i) + slot*0.15, slot * 0.7 }
}

func dayLabels(days []facts.Day) []label {
	at := slots(len(days))
	every := max(1, (len(days)+7)/8) // at most eight labels fit on a phone
	var out []label
	for i, d := range days {
		if i%every != 0 {
			continue
		}
		x, w := at(i)
		out = append(out, label{X: x + w/2, Text: fmt.Sprintf("%02d-%02d", d.Date.Month, d.Date.Day)})
	}
	return out
}

// xpChart draws XP per day as bars.
func xpChart(days []facts.Day) chart {
	c := chart{ID: "xp", Title: "XP per day", Unit: "XP", Width: chartWidth, Height: chartHeight,
		Labels: dayLabels(days)}
	var top float64
	for _, d := range days {
		top = max(top, d.XP)
	}
	c.Empty = top == 0
	top, c.Ticks = scale(top)
	at := slots(len(days))
	for i, d := range days {
		x, w := at(i)
		h := plotHeight() * d.XP / top
		c.Rects = append(c.Rects, rect{X: x, Y: padTop + plotHeight() - h, W: w, H: h, Class: "bar xp",
			Date: d.Date.String(), Value: formatNumber(d.XP),
			Title: fmt.Sprintf("%s: %s XP", d.Date, formatNumber(d.XP))})
	}
	return c
}

// minutesChart draws the minutes per day stacked by time category.
func minutesChart(days []facts.Day) chart {
	c := chart{ID: "minutes", Title: "Minutes per day by category", Unit: "min", Width: chartWidth,
		Height: chartHeight, Labels: dayLabels(days)}
	for _, cat := range facts.Categories {
		c.Legend = append(c.Legend, legendItem{Class: "seg-" + string(cat), Label: string(cat)})
	}
	var top float64
	for _, d := range days {
		var sum float64
		for _, cat := range facts.Categories {
			sum += d.Seconds(cat) / 60
		}
		top = max(top, sum)
	}
	c.Empty = top == 0
	top, c.Ticks = scale(top)
	at := slots(len(days))
	for i, d := range days {
		x, w := at(i)
		y := padTop + plotHeight()
		for _, cat := range facts.Categories {
			minutes := d.Seconds(cat) / 60
			if minutes <= 0 {
				continue
			}
			h := plotHeight() * minutes / top
			y -= h
			c.Rects = append(c.Rects, rect{X: x, Y: y, W: w, H: h, Class: "seg seg-" + string(cat),
				Date: d.Date.String(), Category: string(cat), Value: formatNumber(minutes),
				Title: fmt.Sprintf("%s: %s min %s", d.Date, formatNumber(minutes), cat)})
		}
	}
	return c
}

// accuracyChart draws the accuracy per day, in percent, as points joined by
// a line. Days without questions have no point.
func accuracyChart(days []facts.Day) chart {
	c := chart{ID: "accuracy", Title: "Accuracy per day", Unit: "%", Width: chartWidth, Height: chartHeight,
		Labels: dayLabels(days), Empty: true}
	_, c.Ticks = scaleFixed(100, 25)
	at := slots(len(days))
	for i, d := range days {
		if d.Accuracy == nil {
			continue
		}
		c.Empty = false
		x, w := at(i)
		pct := *d.Accuracy * 100
		p := point{X: x + w/2, Y: padTop + plotHeight()*(1-pct/100), Date: d.Date.String(),
			Value: formatNumber(pct), Title: fmt.Sprintf("%s: %s%% of %s questions", d.Date, formatNumber(pct),
				formatNumber(d.Questions))}
		c.Points = append(c.Points, p)
		c.Line += fmt.Sprintf("%.1f,%.1f ", p.X, p.Y)
	}
	return c
}

func scaleFixed(top, step float64) (float64, []tick) {
	var ticks []tick
	for y := 0.0; y <= top; y += step {
		ticks = append(ticks, tick{Y: padTop + plotHeight()*(1-y/top), Label: formatNumber(y)})
	}
	return top, ticks
}
