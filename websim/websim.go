package websim

import (
	"embed"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Path is where Register mounts the page.
const Path = "/simulator"

// ContentSecurityPolicy is the policy the page and its files are served
// with: its own scripts, styles and API calls only ('self' is the page's
// origin, under a proxy's prefix too), no <base>, forms sent only to its
// origin, and framed by no page (frame-ancestors 'none', with
// X-Frame-Options: DENY for browsers without it).
const ContentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

//go:embed static
var static embed.FS

// Files returns the page's files (index.html, simulator.css, simulator.js).
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded directory is part of the build
	}
	return sub
}

// Register mounts the page on r: GET /simulator answers index.html (its
// links are relative, so it works under a proxy's path prefix; /simulator/
// is redirected to it) and GET /simulator/NAME the other files. They are served from memory with
// no-cache so a browser never runs a page older than the binary.
func Register(r fiber.Router) {
	files := Files()
	serve := func(c *fiber.Ctx, name string) error {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return fiber.NewError(fiber.StatusNotFound, "no simulator file "+name)
		}
		ctype := mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = fiber.MIMEOctetStream
		}
		c.Set(fiber.HeaderContentType, ctype)
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set("X-Content-Type-Options", "nosniff")
		// No other site may frame the page (clickjacking: a page that
		// shows it invisibly and has the operator click its buttons), and
		// it runs only its own files: no inline script or style, no
		// plugin, no <base> to move its relative links.
		c.Set(fiber.HeaderContentSecurityPolicy, ContentSecurityPolicy)
		c.Set(fiber.HeaderXFrameOptions, "DENY")
		return c.Send(b)
	}
	// The page's links are relative to /simulator, so that it works under a
	// proxy's prefix too: /simulator/ (which the route matches as well) is
	// sent there, relatively.
	r.Get(Path, func(c *fiber.Ctx) error {
		if p := c.Path(); strings.HasSuffix(p, "/") {
			// One "../" for each trailing slash: /simulator// too.
			up := len(p) - len(strings.TrimRight(p, "/"))
			c.Set(fiber.HeaderLocation, strings.Repeat("../", up)+"simulator")
			return c.SendStatus(fiber.StatusMovedPermanently)
		}
		return serve(c, "index.html")
	})
	r.Get(Path+"/:file", func(c *fiber.Ctx) error {
		name := c.Params("file")
		if strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
			return fiber.NewError(fiber.StatusNotFound, "no simulator file "+name)
		}
		return serve(c, strings.Clone(name))
	})
}
