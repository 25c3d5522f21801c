package oneroster_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/oneroster"
)

func ExampleStatic() {
	resolver := oneroster.Static{
		Users: []timeback.User{
			{ID: "https://roster.example.com/ims/oneroster/rostering/v1p2/users/ann", Email: "ann@example.com"},
			{ID: "https://roster.example.com/ims/oneroster/rostering/v1p2/users/bob", Email: "bob@example.com"},
		},
		// A real app reads the address from its session.
		Email: func(r *http.Request) (string, error) { return r.Header.Get("X-Student"), nil },
	}
	for _, email := range []string{"bob@example.com", "eve@example.com"} {
		req := httptest.NewRequest("GET", "/api/timeback/user/me", nil)
		req.Header.Set("X-Student", email)
		user, err := resolver.Resolve(req)
		if err != nil {
			fmt.Println(timeback.HTTPStatus(timeback.ErrorCode(err)), err)
			continue
		}
		fmt.Println(user.ID)
	}
	// Output:
	// https://roster.example.com/ims/oneroster/rostering/v1p2/users/bob
	// 404 user not found: no user has e-mail "eve@example.com"
}
