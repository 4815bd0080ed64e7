package websim_test

import (
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/parleyhq/parley/websim"
)

// The page's links are relative to /simulator, so a path with trailing
// slashes is sent there, relatively (it works under a proxy's prefix too).
func TestTrailingSlashesRedirect(t *testing.T) {
	app := fiber.New()
	websim.Register(app)
	for path, want := range map[string]string{
		"/simulator/":   "../simulator",
		"/simulator//":  "../../simulator",
		"/simulator///": "../../../simulator",
	} {
		resp, err := app.Test(httptest.NewRequest("GET", path, nil))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != fiber.StatusMovedPermanently || resp.Header.Get("Location") != want {
			t.Errorf("GET %s: %d Location %q, want 301 %q", path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	resp, err := app.Test(httptest.NewRequest("GET", "/simulator", nil))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Errorf("GET /simulator: %d", resp.StatusCode)
	}
}
