package oneroster

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/timeback/timeback-go"
)

// Static resolves students from a fixed list, for local development and
// tests where no OneRoster service runs. It implements timeback.Resolver.
type Static struct {
	// Users are the known students.
	Users []timeback.User
	// Email returns the e-mail address of a request's student, which is
	// then matched against Users (case-insensitively). Nil means every
	// request acts for the only entry of Users.
	Email timeback.EmailFunc
}

// Resolve returns the user of Users that req acts for. No match is
// ErrUserNotFound and several matches are ErrAmbiguous, as with Resolver.
func (s Static) Resolve(req *http.Request) (timeback.User, error) {
	if s.Email == nil {
		switch len(s.Users) {
		case 0:
			return timeback.User{}, fmt.Errorf("%w: the static resolver has no users", ErrUserNotFound)
		case 1:
			return s.Users[0], nil
		default:
			return timeback.User{}, fmt.Errorf("%w: the static resolver has %d users and no Email function",
				ErrAmbiguous, len(s.Users))
		}
	}
	email, err := s.Email(req)
	if err != nil {
		return timeback.User{}, err
	}
	email = strings.TrimSpace(email)
	var found []timeback.User
	for _, u := range s.Users {
		if strings.EqualFold(u.Email, email) {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return timeback.User{}, fmt.Errorf("%w: no user has e-mail %q", ErrUserNotFound, email)
	case 1:
		return found[0], nil
	default:
		return timeback.User{}, fmt.Errorf("%w: %d users have e-mail %q", ErrAmbiguous, len(found), email)
	}
}
