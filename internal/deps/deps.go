package deps
import (
 _ "modernc.org/sqlite"
 _ "github.com/jackc/pgx/v5"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "golang.org/x/oauth2/clientcredentials"
 _ "github.com/chromedp/chromedp"
 _ "pgregory.net/rapid"
 _ "golang.org/x/term"
 _ "golang.org/x/time/rate"
)
