// Package httpquery parses URL query strings strictly, for the HTTP
// handlers whose parameters must not be dropped silently.
package httpquery

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/timeback/timeback-go"
)

// Parse parses raw like url.ParseQuery, but returns an error for the first
// parameter that url.ParseQuery rejects, such as one with a semicolon or a
// bad escape. url.Values would drop such a parameter, so a filter or a zone
// would fall back to its default. The error is a *timeback.Error with
// CodeInvalid whose field is the parameter's name.
func Parse(raw string) (url.Values, error) {
	v := url.Values{}
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		pv, err := url.ParseQuery(part)
		if err != nil {
			name, _, _ := strings.Cut(part, "=")
			msg := fmt.Sprintf("invalid query parameter %q: %v", part, err)
			if strings.Contains(part, ";") {
				msg = fmt.Sprintf("invalid query parameter %q: it contains a semicolon; separate parameters "+
					"with & and encode a semicolon in a value as %%3B", part)
			}
			return nil, &timeback.Error{Code: timeback.CodeInvalid, Message: msg,
				Fields: []timeback.FieldError{{Path: name, Message: msg}}}
		}
		for k, vs := range pv {
			v[k] = append(v[k], vs...)
		}
	}
	return v, nil
}
