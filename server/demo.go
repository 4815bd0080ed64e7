package server

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/tidwall/gjson"
)

// DemoOrderStatusPath is the built-in demo order service.
const DemoOrderStatusPath = "/demo/order-status"

// demoOrders answer like RapidPro's demo order service, which its sample
// flows call.
var demoOrders = map[string]map[string]string{
	"CU001": {"status": "Shipped", "order": "CU001", "name": "Ben Haggerty", "order_number": "PLAT2012",
		"ship_date": "October 9th", "delivery_date": "April 3rd", "description": "Vogue White Wall x 4"},
	"CU002": {"status": "Pending", "order": "CU002", "name": "Ryan Lewis", "username": "rlewis", "order_number": "FLAG13",
		"ship_date": "August 14th", "description": "American Flag x 1"},
	"CU003": {"status": "Cancelled", "order": "CU003", "name": "R Kelly", "username": "rkelly", "order_number": "SHET51",
		"cancel_date": "December 13th", "description": "Bed Sheets, Queen x 1"},
}

var orderPattern = regexp.MustCompile(`(?i)\bCU\d{3}\b`)

// demoOrder answers one order lookup. The order number may be the whole
// text or a word in it ("my order is CU001").
func demoOrder(text string) map[string]string {
	text = strings.ToUpper(strings.TrimSpace(text))
	if o, ok := demoOrders[text]; ok {
		return o
	}
	if m := orderPattern.FindString(text); m != "" {
		if o, ok := demoOrders[strings.ToUpper(m)]; ok {
			return o
		}
	}
	return map[string]string{"status": "Invalid"}
}

// demoText finds the message text in a request to the demo service:
// RapidPro's legacy payload (input.text), Parley's default body (text), or a
// "text" form or query field.
func demoText(body []byte, form func(string) string) string {
	if len(body) > 0 && gjson.ValidBytes(body) {
		for _, path := range []string{"input.text", "text", "input"} {
			if r := gjson.GetBytes(body, path); r.Exists() && r.Type == gjson.String {
				return r.String()
			}
		}
	}
	return form("text")
}

func (s *Server) demoOrderStatus(c *fiber.Ctx) error {
	text := demoText(c.Body(), func(k string) string {
		if v := c.FormValue(k); v != "" {
			return v
		}
		return c.Query(k)
	})
	b, err := json.Marshal(demoOrder(text))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}
