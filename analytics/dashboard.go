package analytics

import (
	"bytes"
	"embed"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
)

//go:embed templates/*.html
var templateFiles embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"studentURL": studentURL,
	"minutes":    func(s float64) string { return formatNumber(s / 60) },
	"number":     formatNumber,
	"percent": func(a *float64) string {
		if a == nil {
			return "–"
		}
		return formatNumber(*a*100) + "%"
	},
	"stamp": func(t time.Time, loc *time.Location) string { return t.In(loc).Format("2006-01-02 15:04") },
	"completedAt": func(t *time.Time, loc *time.Location) string {
		if t == nil {
			return "–"
		}
		return t.In(loc).Format("2006-01-02 15:04")
	},
}).ParseFS(templateFiles, "templates/*.html"))

func studentURL(id string, q url.Values) string {
	u := "/dashboard/students/" + url.PathEscape(id)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// page is the template data shared by the dashboard pages.
type page struct {
	Title   string
	Error   string
	Range   facts.Range
	TZ      string
	Query   url.Values // from, to and tz, carried over to links
	Action  string     // path of the range form
	Hidden  map[string]string
	Sensors []string
	// Students lists students for the index and the sensor page.
	Students []studentRow
	Student  string
	Sensor   string
	Totals   facts.Totals
	Charts   []chart
	Runs     []facts.Run
	// SignOut is the path of the sign-out form, empty without one.
	SignOut string
}

type studentRow struct {
	ID string
	facts.Totals
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, p *page) {
	p.SignOut = h.signOut
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, "page.html", p); err != nil {
		h.log.ErrorContext(r.Context(), "render dashboard page failed", "path", r.URL.Path, "err", err)
		http.Error(w, "render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderError shows err on a page of its own with the status of its code.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, p *page, err error) {
	status, e := h.status(w, r, err)
	p.Error = e.Message
	if status >= 500 {
		p.Error = e.Message + ": retry in a moment"
	}
	h.render(w, r, status, p)
}

func (h *Handler) newPage(r *http.Request, title string) (*page, error) {
	p := &page{Title: title, Action: r.URL.Path, Query: url.Values{}}
	rg, err := h.queryRange(r)
	q := r.URL.Query()
	p.TZ = q.Get("tz")
	if err != nil {
		p.Range = facts.Range{Loc: time.UTC}
		return p, err
	}
	p.Range = rg
	p.Query.Set("from", rg.From.String())
	p.Query.Set("to", rg.To.String())
	if p.TZ != "" {
		p.Query.Set("tz", p.TZ)
	}
	return p, nil
}

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	p, err := h.newPage(r, "Timeback learning facts")
	if err != nil {
		h.renderError(w, r, p, err)
		return
	}
	ctx := r.Context()
	if p.Sensors, err = h.src.Sensors(ctx); err != nil {
		h.renderError(w, r, p, err)
		return
	}
	ids, err := h.src.Students(ctx, "")
	if err != nil {
		h.renderError(w, r, p, err)
		return
	}
	for _, id := range ids {
		p.Students = append(p.Students, studentRow{ID: id})
	}
	h.render(w, r, http.StatusOK, p)
}

func (h *Handler) studentPage(w http.ResponseWriter, r *http.Request) {
	student := r.PathValue("id")
	p, err := h.newPage(r, "Student "+student)
	p.Student = student
	if err != nil {
		h.renderError(w, r, p, err)
		return
	}
	d, err := StudentDaily(r.Context(), h.src, student, p.Range)
	if err != nil {
		h.renderError(w, r, p, err)
		return
	}
	if len(d.Runs) == 0 {
		if err := h.knownStudent(r.Context(), student); err != nil {
			h.renderError(w, r, p, err)
			return
		}
	}
	p.Totals = sum(d.Days)
	p.Charts = []chart{xpChart(d.Days), minutesChart(d.Days), accuracyChart(d.Days)}
	p.Runs = d.Runs
	h.render(w, r, http.StatusOK, p)
}

func (h *Handler) sensorPage(w http.ResponseWriter, r *http.Request) {
	sensor := r.URL.Query().Get("sensor")
	p, err := h.newPage(r, "Sensor "+sensor)
	p.Sensor = sensor
	p.Hidden = map[string]string{"sensor": sensor}
	if err == nil && sensor == "" {
		err = &timeback.Error{Code: timeback.CodeInvalid, Message: "missing sensor: add ?sensor=IRI",
			Fields: []timeback.FieldError{{Path: "sensor", Message: "missing"}}}
	}
	if err != nil {
		h.renderError(w, r, p, err)
		return
	}
	ctx := r.Context()
	ws, cs, err := h.src.Facts(ctx, facts.Query{Sensor: sensor, Start: p.Range.Start(), End: p.Range.End()})
	if err != nil {
		h.renderError(w, r, p, err)
		return
	}
	students, err := h.src.Students(ctx, sensor)
	if err != nil {
		h.renderError(w, r, p, err)
		return
	}
	if len(students) == 0 {
		h.renderError(w, r, p, timeback.Errorf(timeback.CodeNotFound, "sensor %q has no facts", sensor))
		return
	}

	days := facts.Daily(p.Range, ws, cs)
	p.Totals = sum(days)
	p.Charts = []chart{xpChart(days), minutesChart(days), accuracyChart(days)}
	for _, id := range students {
		var sw []facts.Window
		var sc []facts.Completion
		for _, w := range ws {
			if w.StudentID == id {
				sw = append(sw, w)
			}
		}
		for _, c := range cs {
			if c.StudentID == id {
				sc = append(sc, c)
			}
		}
		p.Students = append(p.Students, studentRow{ID: id, Totals: sum(facts.Daily(p.Range, sw, sc))})
	}
	if p.Runs, err = wholeRuns(ctx, h.src, ws, cs); err != nil {
		h.renderError(w, r, p, err)
		return
	}
	h.render(w, r, http.StatusOK, p)
}

func (h *Handler) pageNotFound(w http.ResponseWriter, r *http.Request) {
	p := &page{Title: "Not found", Range: facts.Range{Loc: time.UTC}}
	h.renderError(w, r, p, timeback.Errorf(timeback.CodeNotFound, "no dashboard page %s", r.URL.Path))
}

// sum adds up days, with the accuracy over all their questions.
func sum(days []facts.Day) facts.Totals {
	var t facts.Totals
	for _, d := range days {
		t.XP += d.XP
		t.ActiveSeconds += d.ActiveSeconds
		t.InactiveSeconds += d.InactiveSeconds
		t.WasteSeconds += d.WasteSeconds
		t.UnknownSeconds += d.UnknownSeconds
		t.AntiPatternSeconds += d.AntiPatternSeconds
		t.Questions += d.Questions
		t.CorrectQuestions += d.CorrectQuestions
		t.MasteredUnits += d.MasteredUnits
		t.Completions += d.Completions
	}
	t.XP = math.Round(t.XP*1e6) / 1e6
	if t.Questions > 0 {
		a := t.CorrectQuestions / t.Questions
		t.Accuracy = &a
	}
	return t
}
