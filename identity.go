package timeback

import "net/http"

// Resolver returns the student an HTTP request acts for. Implementations
// return an *Error: CodeNotFound when no user matches, CodeConflict when
// several do, CodeUnauthorized when the request carries no identity.
type Resolver interface {
	Resolve(r *http.Request) (User, error)
}

// ResolverFunc adapts a function to a Resolver.
type ResolverFunc func(r *http.Request) (User, error)

// Resolve calls f(r).
func (f ResolverFunc) Resolve(r *http.Request) (User, error) { return f(r) }

// EmailFunc returns the e-mail address of the student a request acts for,
// such as one read from the app's session. It returns an error when the
// request carries no student.
type EmailFunc func(r *http.Request) (string, error)
