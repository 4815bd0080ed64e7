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
