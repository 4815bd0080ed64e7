package websim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/parleyhq/parley/examples"
	"github.com/parleyhq/parley/server"
	"github.com/parleyhq/parley/store"
)

// outDir holds the screenshots the end-to-end test takes (git-ignored).
const outDir = "testout"

// findChromium returns the first Chromium or Chrome in PATH.
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// startServer runs a real server on a loopback port with a fresh store,
// seeded with the example flows; with changes to its configuration.
func startServer(t *testing.T, with ...func(*server.Config)) string {
	t.Helper()
	cfg := server.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), Examples: examples.FS,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, f := range with {
		f(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
	})
	return "http://" + ln.Addr().String()
}

// browser starts headless Chromium; the test skips when none is installed.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := findChromium()
	if exe == "" {
		t.Skip("no Chromium found in PATH (chromium, chromium-browser or google-chrome): install one, e.g. apt-get install -y chromium, to run the simulator's browser test")
	}
	// Chromium now and then exits while starting on a busy machine (seen
	// once in a full go test ./... run); a fresh process then starts fine.
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(exe),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(t.TempDir()),
			chromedp.WindowSize(1400, 1000),
		}
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(actx)
		ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
		if err = chromedp.Do(ctx); err == nil {
			t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
			return ctx
		}
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		t.Logf("start %s, attempt %d: %v", exe, attempt, err)
	}
	t.Fatalf("start %s: %v", exe, err)
	return nil
}

// do runs the steps in order, each within its own deadline, and on failure
// reports which step failed with what the page showed.
func do(ctx context.Context, t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for i, st := range steps {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_, err := chromedp.Run(sctx, st)
		cancel()
		if err != nil {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[
				'status: ' + document.querySelector('#start-status').textContent,
				'errors: ' + document.querySelector('#flow-errors').textContent,
				'warnings: ' + (document.querySelector('#flow-warnings') || {}).textContent,
				'chat: ' + document.querySelector('#chat').innerText,
				'events: ' + [...document.querySelectorAll('#events .etype')].map(e => e.textContent).join(' '),
			].join('\n')`))
			t.Fatalf("step %d: %v\npage:\n%s", i+1, err, state)
		}
	}
}

// js quotes s as a JavaScript string literal.
func js(s string) string { return fmt.Sprintf("%q", s) }

// waitFor polls a JavaScript condition until it is true.
func waitFor(cond string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(50*time.Millisecond))
}

// texts reads the text of every element matching sel.
func texts(ctx context.Context, t *testing.T, sel string) []string {
	t.Helper()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		fmt.Sprintf(`[...document.querySelectorAll(%s)].map(e => e.textContent)`, js(sel))))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func screenshot(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(outDir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// chooseFlow picks a stored flow and waits for its JSON in the editor.
func chooseFlow(id, marker string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#flow-select option[value=%s]`, js(id)))),
		chromedp.SetValue(chromedp.CSS(`#flow-select`), id),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#flow-select').dispatchEvent(new Event('change'))`),
		waitFor(fmt.Sprintf(`document.querySelector('#flow-json').value.includes(%s)`, js(marker))),
	)
}

// bubbleWith waits for a bubble of who ("flow" or "contact") containing text.
func bubbleWith(who, text string) chromedp.Action[chromedp.Void] {
	return waitFor(fmt.Sprintf(`[...document.querySelectorAll('.bubble.%s')].some(b => b.textContent.includes(%s))`, who, js(text)))
}

func TestSimulatorInBrowser(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)

	const (
		welcome = "Thanks for contacting the ThriftShop order status system. Please send your order # and we'll help you in a jiffy!"
		shipped = "Great news Ben Haggerty! We shipped your order for Vogue White Wall x 4 on October 9th and we expect it will be delivered on April 3rd."
		thanks  = "Thanks Ben Haggerty, we'll be in touch ASAP about order # CU001."
		answer  = `{"status": "Shipped", "order": "CU001", "name": "Ben Haggerty", "ship_date": "October 9th", "delivery_date": "April 3rd", "description": "Vogue White Wall x 4"}`
	)

	t.Run("order status with a mocked webhook", func(t *testing.T) {
		do(ctx, t,
			chromedp.Navigate(base+"/simulator"),
			chooseFlow("order-status", `"lookup"`),
			// Mock the lookup webhook: the add button proposes the flow's webhook widget.
			chromedp.Click(chromedp.CSS(`#add-mock`)),
			waitFor(`document.querySelector('.mock-widget').value === 'lookup'`),
			chromedp.SetValue(chromedp.CSS(`.mock-body`), answer),
			chromedp.Click(chromedp.CSS(`#start`)),
			bubbleWith("flow", welcome),
			chromedp.WaitEnabled(chromedp.CSS(`#message`)),
			chromedp.SendKeys(chromedp.CSS(`#message`), "CU001"+kb.Enter),
			bubbleWith("flow", shipped),
			waitFor(`[...document.querySelectorAll('#events li[data-type="webhook_called"] .estatus')].some(e => e.textContent.startsWith('200'))`),
			chromedp.WaitEnabled(chromedp.CSS(`#message`)),
			chromedp.SendKeys(chromedp.CSS(`#message`), "Please leave it at the back door"+kb.Enter),
			bubbleWith("flow", thanks),
			waitFor(`document.querySelector('#session-status').textContent === 'completed'`),
			waitFor(`document.querySelector('#variables-view').textContent.includes('@flow.order_number')`),
		)
		if got, want := texts(ctx, t, ".bubble.contact"), []string{"CU001", "Please leave it at the back door"}; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("contact bubbles = %q, want %q", got, want)
		}
		flowBubbles := texts(ctx, t, ".bubble.flow")
		if len(flowBubbles) != 3 || flowBubbles[0] != welcome || !strings.HasPrefix(flowBubbles[1], shipped) || flowBubbles[2] != thanks {
			t.Errorf("flow bubbles = %q, want the welcome, the shipped answer and the thanks", flowBubbles)
		}

		// The event log lists the webhook call with its status; opened, it
		// shows the request sent and the (mocked) response received.
		hooks := texts(ctx, t, `#events li[data-type="webhook_called"]`)
		if len(hooks) != 1 {
			t.Fatalf("event log has %d webhook_called events, want 1", len(hooks))
		}
		for _, want := range []string{"200 success", "widget lookup", "POST http://127.0.0.1:8080/demo/order-status", "Request sent", "Response received", "Vogue White Wall x 4", server.MockHeader, "User-Agent: Parley-Webhook/1.0"} {
			if !strings.Contains(hooks[0], want) {
				t.Errorf("webhook event does not show %q:\n%s", want, hooks[0])
			}
		}
		types := texts(ctx, t, `#events .etype`)
		if len(types) < 4 || types[0] == "" || !strings.Contains(strings.Join(types, " "), "message_in") {
			t.Errorf("event log = %q, want the turns' events in order", types)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#events li[data-type="webhook_called"] summary`))); err != nil {
			t.Fatal(err)
		}
		screenshot(ctx, t, "simulator-order-status.png")

		vars := texts(ctx, t, "#variables-view")[0]
		for _, want := range []string{"@flow.order_number", "CU001", "@flow.lookup", "200  (Success)", `"order": "CU001"`} {
			if !strings.Contains(vars, want) {
				t.Errorf("variables do not show %q:\n%s", want, vars)
			}
		}
	})

	t.Run("edit and rerun shows validation errors next to the JSON", func(t *testing.T) {
		do(ctx, t,
			chromedp.Evaluate[chromedp.Void](`(() => {
				const ta = document.querySelector('#flow-json');
				ta.value = ta.value.replace('"Next": "lookup"', '"Next": "lookup-typo"');
				ta.dispatchEvent(new Event('input'));
			})()`),
			chromedp.Click(chromedp.CSS(`#start`)),
			waitFor(`[...document.querySelectorAll('#flow-errors li')].some(li => li.textContent.includes('lookup-typo'))`),
		)
		errs := texts(ctx, t, "#flow-errors li")
		if len(errs) != 1 || !strings.Contains(errs[0], "widget order") || !strings.Contains(errs[0], `widgets[1].exits.Next`) {
			t.Errorf("flow errors = %q, want one naming widget order and its exit path", errs)
		}
		// Fixing the flow and starting again runs the edited flow as a draft.
		do(ctx, t,
			chromedp.Evaluate[chromedp.Void](`(() => {
				const ta = document.querySelector('#flow-json');
				ta.value = ta.value.replace('"Next": "lookup-typo"', '"Next": "lookup"').replace('in a jiffy!', 'in a moment!');
				ta.dispatchEvent(new Event('input'));
			})()`),
			chromedp.Click(chromedp.CSS(`#start`)),
			bubbleWith("flow", "we'll help you in a moment!"),
			waitFor(`document.querySelector('#chat .system').textContent.includes('sim.order-status')`),
		)
		if errs := texts(ctx, t, "#flow-errors li"); len(errs) != 0 {
			t.Errorf("flow errors after the fix = %q, want none", errs)
		}
	})

	t.Run("IVR menu with the keypad", func(t *testing.T) {
		do(ctx, t,
			chooseFlow("ivr-menu", `"gather_digits"`),
			chromedp.WaitVisible(chromedp.CSS(`#caller`)),
			chromedp.SetValue(chromedp.CSS(`#caller`), "+15551234567"),
			chromedp.Click(chromedp.CSS(`#start`)),
			bubbleWith("flow", "Hello, caller from +15551234567. Welcome to Parley Telecom."),
			bubbleWith("flow", "Press 1 for sales, 2 for support, 3 to leave a message."),
			chromedp.WaitVisible(chromedp.CSS(`.keypad`)),
			// No key pressed: fire the gather's timeout now.
			chromedp.WaitEnabled(chromedp.CSS(`#fire-timeout`)),
			chromedp.Click(chromedp.CSS(`#fire-timeout`)),
			bubbleWith("flow", "Sorry, we did not hear anything."),
			chromedp.WaitEnabled(chromedp.CSS(`.keypad button[data-key="9"]`)),
			chromedp.Click(chromedp.CSS(`.keypad button[data-key="9"]`)),
			bubbleWith("flow", "Sorry, that is not an option."),
			chromedp.WaitEnabled(chromedp.CSS(`.keypad button[data-key="2"]`)),
			chromedp.Click(chromedp.CSS(`.keypad button[data-key="2"]`)),
			bubbleWith("flow", "Connecting you to support."),
			waitFor(`document.querySelector('#session-status').textContent !== 'waiting'`),
			waitFor(`document.querySelector('#variables-view').textContent.includes('$call.cli')`),
		)
		if got := texts(ctx, t, ".bubble.contact"); strings.Join(got, "|") != "pressed9|pressed2" {
			t.Errorf("contact bubbles = %q, want the keys 9 then 2", got)
		}
		if vars := texts(ctx, t, "#variables-view")[0]; !strings.Contains(vars, "+15551234567") || !strings.Contains(vars, "Support") {
			t.Errorf("variables do not show the caller and the menu choice:\n%s", vars)
		}
		if got := texts(ctx, t, "#session-status")[0]; got == "waiting" || got == "failed" {
			t.Errorf("session status after the menu = %q", got)
		}
		screenshot(ctx, t, "simulator-ivr-menu.png")
	})
}

// editFlow replaces from with to in the flow JSON as if typed.
func editFlow(from, to string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const ta = document.querySelector('#flow-json');
		if (!ta.value.includes(%[1]s)) throw new Error('flow JSON has no ' + %[1]s);
		ta.value = ta.value.replace(%[1]s, %[2]s);
		ta.dispatchEvent(new Event('input'));
	})()`, js(from), js(to)))
}

// statusIs waits for the session badge to show status.
func statusIs(status string) chromedp.Action[chromedp.Void] {
	return waitFor(fmt.Sprintf(`document.querySelector('#session-status').textContent === %s`, js(status)))
}

func TestSimulatorFailedStartKeepsSession(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	const ask = "What is your favourite colour? Red, green or blue?"

	do(ctx, t,
		chromedp.Navigate(base+"/simulator"),
		chooseFlow("favourite-colour", `"colour"`),
		chromedp.Click(chromedp.CSS(`#start`)),
		bubbleWith("flow", ask),
		statusIs("waiting"),
		// An exit to a widget that does not exist: the start fails.
		editFlow(`"Red": "red"`, `"Red": "colourz"`),
		chromedp.Click(chromedp.CSS(`#start`)),
		waitFor(`[...document.querySelectorAll('#flow-errors li')].some(li => li.textContent.includes('colourz'))`),
		waitFor(`document.querySelector('#start-status').textContent.includes('fix them')`),
		// Fixed, but with a mock for a widget the flow does not have.
		editFlow(`"Red": "colourz"`, `"Red": "red"`),
		chromedp.Click(chromedp.CSS(`#add-mock`)),
		chromedp.SetValue(chromedp.CSS(`.mock-widget`), "nope"),
		chromedp.Click(chromedp.CSS(`#start`)),
		waitFor(`document.querySelector('#start-status').textContent.includes('no widget "nope"')`),
		// The first session still runs and answers.
		statusIs("waiting"),
		chromedp.WaitEnabled(chromedp.CSS(`#message`)),
		chromedp.SendKeys(chromedp.CSS(`#message`), "blue"+kb.Enter),
		bubbleWith("flow", "Blue it is, Test! Like the sea."),
		statusIs("completed"),
	)
	if got := texts(ctx, t, ".bubble.flow"); len(got) != 2 || got[0] != ask {
		t.Errorf("flow bubbles = %q, want the question of the first session and its answer", got)
	}
	if sys := strings.Join(texts(ctx, t, "#chat .system"), "|"); strings.Contains(sys, "interrupted") {
		t.Errorf("chat says the session was interrupted: %q", sys)
	}
}

// startOwnFlow opens the simulator at base and starts doc, a flow of the
// test's own, in place of the example first shown.
func startOwnFlow(base, doc string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/simulator"),
		chooseFlow("favourite-colour", `"colour"`),
		setFlow(doc),
		chromedp.Click(chromedp.CSS(`#start`)),
	)
}

// setFlow puts doc in the flow editor as if pasted.
func setFlow(doc string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const ta = document.querySelector('#flow-json');
		ta.value = %s;
		ta.dispatchEvent(new Event('input'));
	})()`, js(doc)))
}

func TestSimulatorShowsTimeoutFiredByServer(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	const flow = `{"id": "quick-timeout", "name": "Quick timeout", "start": "ask", "widgets": [
		{"id": "ask", "type": "send_message", "text": "Say something within 3 seconds", "quick_replies": ["Hi"], "exits": {"Next": "wait"}},
		{"id": "wait", "type": "wait_for_response", "timeout": 3, "exits": {"Next": "got", "Timeout": "late"}},
		{"id": "got", "type": "send_message", "text": "Got it", "exits": {"Next": "end"}},
		{"id": "late", "type": "send_message", "text": "Too slow: ask me again", "exits": {"Next": "again"}},
		{"id": "again", "type": "wait_for_response", "exits": {"Next": "got"}},
		{"id": "end", "type": "end"}]}`
	do(ctx, t,
		startOwnFlow(base, flow),
		bubbleWith("flow", "Say something within 3 seconds"),
		statusIs("waiting"),
		waitFor(`document.querySelector('#wait-info').textContent.includes('timeout 3s')`),
		// Nobody answers: the server fires the timeout and the page shows
		// what the Timeout branch said, without any action on the page.
		bubbleWith("flow", "Too slow: ask me again"),
		waitFor(`[...document.querySelectorAll('#chat .system')].some(s => s.textContent === 'Timeout fired by the server')`),
		waitFor(`!document.querySelector('#wait-info').textContent.includes('timeout')`),
		statusIs("waiting"),
		chromedp.WaitEnabled(chromedp.CSS(`#message`)),
		chromedp.SendKeys(chromedp.CSS(`#message`), "hello"+kb.Enter),
		bubbleWith("flow", "Got it"),
		statusIs("completed"),
	)
	if got := texts(ctx, t, ".bubble.flow"); strings.Join(got, "|") != "Say something within 3 seconds|Too slow: ask me again|Got it" {
		t.Errorf("flow bubbles = %q", got)
	}
	if n := len(texts(ctx, t, "#quick-replies button")); n != 0 {
		t.Errorf("%d quick replies of the timed-out question still shown", n)
	}
}

func TestSimulatorEventLogHasEveryEvent(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	// One webhook answer saved under 600 names: more events in one turn
	// than one page of /events holds (500).
	const names = 600
	var mappings []string
	for i := range names {
		mappings = append(mappings, fmt.Sprintf(`"m%d": "a"`, i))
	}
	flow := `{"id": "many-events", "name": "Many events", "start": "hook", "widgets": [
		{"id": "hook", "type": "webhook", "method": "POST", "url": "http://example.com/hook", "mappings": {` + strings.Join(mappings, ", ") + `},
		 "exits": {"Success": "done", "Failure": "done"}},
		{"id": "done", "type": "send_message", "text": "All saved", "exits": {"Next": "end"}},
		{"id": "end", "type": "end"}]}`
	do(ctx, t,
		chromedp.Navigate(base+"/simulator"),
		chooseFlow("favourite-colour", `"colour"`),
		setFlow(flow),
		waitFor(`document.querySelector('#webhook-widgets option[value="hook"]') !== null`),
		chromedp.Click(chromedp.CSS(`#add-mock`)),
		waitFor(`document.querySelector('.mock-widget').value === 'hook'`),
		chromedp.SetValue(chromedp.CSS(`.mock-body`), `{"a": 1}`),
		chromedp.Click(chromedp.CSS(`#start`)),
		bubbleWith("flow", "All saved"),
		statusIs("completed"),
		waitFor(`document.querySelector('#events li:last-child')?.dataset.type === 'session_ended'`),
	)
	if n := len(texts(ctx, t, `#events li[data-type="result_saved"]`)); n < names {
		t.Errorf("event log has %d result_saved events, want at least %d", n, names)
	}
	seqs, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[...document.querySelectorAll('#events li')].map(li => +li.dataset.seq)`))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		if s != i+1 {
			t.Fatalf("event %d of the log has seq %d, want %d: events missing or repeated", i+1, s, i+1)
		}
	}
}

func TestSimulatorRunsStoredFlowAsIs(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	// Revision 2 of favourite-colour, stored but not published: new
	// sessions still start on revision 1.
	doc, err := os.ReadFile("../examples/favourite-colour/flow.json")
	if err != nil {
		t.Fatal(err)
	}
	rev2 := strings.Replace(string(doc), "What is your favourite colour?", "Which colour do you like best?", 1)
	req, err := http.NewRequest(http.MethodPut, base+"/v1/flows/favourite-colour", strings.NewReader(rev2))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT revision 2: %s", resp.Status)
	}

	do(ctx, t,
		chromedp.Navigate(base+"/simulator"),
		chooseFlow("favourite-colour", "What is your favourite colour?"),
		chromedp.Click(chromedp.CSS(`#start`)),
		bubbleWith("flow", "What is your favourite colour? Red, green or blue?"),
		statusIs("waiting"),
	)
	if sys := texts(ctx, t, "#chat .system")[0]; !strings.HasSuffix(sys, "on favourite-colour revision 1") {
		t.Errorf("chat says %q, want the session on favourite-colour revision 1 (the published one, not a draft)", sys)
	}
	if drafts := texts(ctx, t, `#flow-select option[value^="sim."]`); len(drafts) != 0 {
		t.Errorf("drafts listed after running a stored flow unchanged: %q", drafts)
	}
}

func TestSimulatorAPIKeyClearsListError(t *testing.T) {
	ctx := browser(t)
	const key = "sim-test-key-0123456789"
	base := startServer(t, func(c *server.Config) { c.APIKeys = []server.APIKey{{Name: "test", Key: key}} })
	do(ctx, t,
		chromedp.Navigate(base+"/simulator"),
		chromedp.Evaluate[chromedp.Void](`localStorage.removeItem('parley.apiKey')`),
		chromedp.Reload(),
		waitFor(`document.querySelector('#start-status').textContent.startsWith('Could not list flows')`),
		chromedp.Click(chromedp.CSS(`.apikey summary`)),
		chromedp.SendKeys(chromedp.CSS(`#api-key`), key+kb.Tab),
		chromedp.WaitReady(chromedp.CSS(`#flow-select option[value="order-status"]`)),
		waitFor(`document.querySelector('#flow-json').value.includes('"id"')`),
	)
	if got := texts(ctx, t, "#start-status")[0]; got != "" {
		t.Errorf("start status with a valid key = %q, want it empty", got)
	}
}

func TestSimulatorRestartRunsTheLastSetup(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	const ask = "What is your favourite colour? Red, green or blue?"
	do(ctx, t,
		chromedp.Navigate(base+"/simulator"),
		chooseFlow("favourite-colour", `"colour"`),
		chromedp.SetValue(chromedp.CSS(`#contact-name`), "Ann Smith"),
		chromedp.Click(chromedp.CSS(`#start`)),
		bubbleWith("flow", ask),
		statusIs("waiting"),
		// The form changes, but nothing is started with it.
		chromedp.SetValue(chromedp.CSS(`#contact-name`), "Bob Jones"),
		editFlow("What is your favourite colour?", "Pick a colour:"),
		chromedp.WaitEnabled(chromedp.CSS(`#restart`)),
		chromedp.Click(chromedp.CSS(`#restart`)),
		waitFor(`document.querySelectorAll('#chat .bubble').length === 1 && document.querySelector('#chat .system').textContent.startsWith('Session ')`),
		bubbleWith("flow", ask),
		statusIs("waiting"),
		chromedp.WaitEnabled(chromedp.CSS(`#message`)),
		chromedp.SendKeys(chromedp.CSS(`#message`), "red"+kb.Enter),
		bubbleWith("flow", "Red it is, Ann! Bold choice."),
		statusIs("completed"),
	)
	sys := texts(ctx, t, "#chat .system")
	if !strings.HasSuffix(sys[0], "on favourite-colour revision 1") {
		t.Errorf("restarted session: %q, want favourite-colour as started (not a draft of the edit)", sys[0])
	}
	if got := texts(ctx, t, ".bubble.flow"); len(got) != 2 || got[0] != ask {
		t.Errorf("flow bubbles after the restart = %q, want the first setup's question and answer", got)
	}
	// The first session was interrupted by the restart.
	resp, err := http.Get(base + "/v1/sessions?contact=" + url.QueryEscape("sim:tel:+12065551212"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Sessions []struct{ Status string } }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list.Sessions) != 2 || list.Sessions[0].Status != "interrupted" || list.Sessions[1].Status != "completed" {
		t.Errorf("sessions of the test contact = %+v, want the first interrupted and the restarted one completed", list.Sessions)
	}
	// The edit is still in the editor, for the next Start.
	edited, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#flow-json').value.includes('Pick a colour:')`))
	if err != nil || !edited {
		t.Errorf("the editor lost the edit (err %v)", err)
	}
}

// panelsInOrder is true when the page's panels are in the document in the
// order they are shown, top to bottom and left to right.
const panelsInOrder = `(() => {
	const ps = [...document.querySelectorAll('main.layout > section')].map(p => p.getBoundingClientRect());
	return ps.every((r, i) => i === 0 || r.top > ps[i-1].top + 1 || (Math.abs(r.top - ps[i-1].top) <= 1 && r.left > ps[i-1].left));
})()`

func TestSimulatorTabOrderOnANarrowScreen(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	do(ctx, t,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(base+"/simulator"),
		chooseFlow("favourite-colour", `"colour"`),
		waitFor(panelsInOrder),
		waitFor(`document.querySelector('main.layout > section').classList.contains('setup')`),
		chromedp.Click(chromedp.CSS(`#start`)),
		bubbleWith("flow", "What is your favourite colour?"),
		// Running: the conversation is shown first, and comes first for Tab.
		waitFor(`document.querySelector('main.layout > section').classList.contains('phone')`),
		waitFor(panelsInOrder),
		// From the conversation's last control, Tab goes on to the setup.
		chromedp.WaitEnabled(chromedp.CSS(`#expire`)),
		chromedp.Focus(chromedp.CSS(`#expire`)),
		chromedp.KeyEvent(kb.Tab),
		waitFor(`document.activeElement.closest('section')?.classList.contains('setup')`),
		// Back on a wide screen the setup is on the left and first again.
		chromedp.EmulateViewport(1400, 1000),
		waitFor(`document.querySelector('main.layout > section').classList.contains('setup')`),
		waitFor(panelsInOrder),
	)
}

func TestSimulatorSessionEndedElsewhere(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	do(ctx, t,
		chromedp.Navigate(base+"/simulator"),
		chooseFlow("favourite-colour", `"colour"`),
		chromedp.Click(chromedp.CSS(`#start`)),
		bubbleWith("flow", "What is your favourite colour?"),
		statusIs("waiting"),
	)
	sys := texts(ctx, t, "#chat .system")[0] // "Session ID on FLOW revision N"
	id := strings.Fields(sys)[1]
	resp, err := http.Post(base+"/v1/sessions/"+id+"/interrupt", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("interrupt %s: %s", id, resp.Status)
	}
	// The page learns it when its next message is refused.
	do(ctx, t,
		chromedp.SendKeys(chromedp.CSS(`#message`), "blue"+kb.Enter),
		waitFor(`[...document.querySelectorAll('#chat .system')].some(s => s.textContent === 'Meanwhile, on the server:')`),
		waitFor(`[...document.querySelectorAll('#chat .system')].some(s => s.textContent === 'Session interrupted')`),
		statusIs("interrupted"),
		waitFor(`document.querySelector('#message').disabled`),
	)
}

// TestSimulatorUnderAProxyPrefix: behind a proxy that serves the server
// under /parley (--public-url .../parley), the page loads its files and
// calls the API under that prefix, and /simulator/ leads to the page.
func TestSimulatorUnderAProxyPrefix(t *testing.T) {
	ctx := browser(t)
	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + proxyLn.Addr().String() + "/parley"
	target, err := url.Parse(startServer(t, func(c *server.Config) { c.PublicURL = public }))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var outside []string // requests the proxy got outside its prefix
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/parley/")
		if !ok && r.URL.Path != "/favicon.ico" { // the browser asks for that one itself
			mu.Lock()
			outside = append(outside, r.URL.Path)
			mu.Unlock()
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		r.URL.Path, r.URL.RawPath = "/"+rest, ""
		rp.ServeHTTP(w, r)
	})}
	go proxy.Serve(proxyLn)
	t.Cleanup(func() { proxy.Close() })

	do(ctx, t,
		chromedp.Navigate(public+"/simulator/"),
		chooseFlow("favourite-colour", "What is your favourite colour?"),
		chromedp.Click(chromedp.CSS(`#start`)),
		bubbleWith("flow", "What is your favourite colour? Red, green or blue?"),
		statusIs("waiting"),
	)
	loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if loc != public+"/simulator" || len(outside) > 0 {
		t.Errorf("page at %s, requests outside the prefix %q; want %s/simulator and none", loc, outside, public)
	}
}

// TestSimulatorContactLanguageAndFields: the test contact's language and
// fields set on the page reach the flow: its translation is sent and
// $user.key shows the fields. A language no translation could match is
// refused by the server, its message shown next to the field, and a fields
// line that is not key = value is named before anything starts.
func TestSimulatorContactLanguageAndFields(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	const flow = `{"id": "greeting", "name": "Greeting", "language": "eng", "widgets": [
	  {"id": "m", "type": "send_message", "text": "Hello, your plan is $user.key.plan",
	   "translations": {"fra": {"text": "Bonjour, votre forfait est $user.key.plan"}}, "exits": {"Next": ""}}]}`
	setValue := func(sel, v string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			const e = document.querySelector(%s);
			e.value = %s;
			e.dispatchEvent(new Event('input'));
		})()`, js(sel), js(v)))
	}
	do(ctx, t,
		chromedp.Navigate(base+"/simulator"),
		chooseFlow("order-status", `"lookup"`),
		setValue(`#flow-json`, flow),
		chromedp.SetValue(chromedp.CSS(`#contact-urn`), "tel:+15550002222"),
		// A fields line that is not key = value: nothing starts.
		setValue(`#contact-fields`, "plan = gold\ngold"),
		chromedp.Click(chromedp.CSS(`#start`)),
		waitFor(`document.querySelector('#fields-error').textContent === 'Contact fields, line 2: "gold" is not key = value'`),
		waitFor(`document.activeElement === document.querySelector('#contact-fields')`),
		setValue(`#contact-fields`, "plan = gold"),
		// A language the server cannot read as ISO 639-3.
		chromedp.SetValue(chromedp.CSS(`#contact-language`), "fr-FR"),
		chromedp.Click(chromedp.CSS(`#start`)),
		waitFor(`document.querySelector('#language-error').textContent.includes('contact language "fr-FR" is not an ISO 639-3 code') &&
			document.querySelector('#language-error').textContent.includes('did you mean "fra"?')`),
		waitFor(`document.activeElement === document.querySelector('#contact-language')`),
		// fr is read as fra: the French translation, with the field.
		chromedp.SetValue(chromedp.CSS(`#contact-language`), "fr"),
		chromedp.Click(chromedp.CSS(`#start`)),
		bubbleWith("flow", "Bonjour, votre forfait est gold"),
		waitFor(`document.querySelector('#language-error').textContent === '' && document.querySelector('#fields-error').textContent === ''`),
		waitFor(`document.querySelector('#variables-view').textContent.includes('$user.key.plan')`),
		// Another contact with English.
		chromedp.SetValue(chromedp.CSS(`#contact-urn`), "tel:+15550003333"),
		chromedp.SetValue(chromedp.CSS(`#contact-language`), "eng"),
		setValue(`#contact-fields`, "plan = silver"),
		chromedp.Click(chromedp.CSS(`#start`)),
		bubbleWith("flow", "Hello, your plan is silver"),
	)
	screenshot(ctx, t, "simulator-language.png")
}

// A stored flow that a check added since would refuse (a wait with
// "timeout": 0) runs as it is stored: the live check lists its problems as
// warnings, apart from errors, and Start runs it. Edited, the flow must pass
// today's checks: the same problem is an error and nothing starts.
func TestSimulatorStoredFlowWarnings(t *testing.T) {
	ctx := browser(t)
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, server.DBFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const doc = `{"id": "tz", "name": "Timeout zero", "widgets": [
	  {"id": "hello", "type": "send_message", "text": "Say something", "exits": {"Next": "ask"}},
	  {"id": "ask", "type": "wait_for_response", "result": "answer", "timeout": 0, "exits": {"Next": "say"}},
	  {"id": "say", "type": "send_message", "text": "You said @flow.answer"},
	  {"id": "lost", "type": "send_message", "text": "never sent"}]}`
	if _, err := st.SaveFlow(context.Background(), store.NewFlow{ID: "tz", Name: "Timeout zero", Kind: "messaging", Definition: []byte(doc)}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	base := startServer(t, func(c *server.Config) { c.DataDir = dir })

	warningAt := func(path string) chromedp.Action[chromedp.Void] {
		return waitFor(fmt.Sprintf(`[...document.querySelectorAll('#flow-warnings li')].some(li => li.textContent.includes(%s))`, js(path)))
	}
	do(ctx, t,
		chromedp.Navigate(base+"/simulator"),
		chooseFlow("tz", `"timeout": 0`),
		warningAt("widgets[1].timeout"),
		warningAt("widgets[3]"),
	)
	if errs := texts(ctx, t, "#flow-errors li"); len(errs) != 0 {
		t.Errorf("the stored flow's check lists errors %q, want none: it runs", errs)
	}
	if heads := texts(ctx, t, "#flow-warnings strong"); len(heads) != 1 || !strings.Contains(heads[0], "2 warnings") || !strings.Contains(heads[0], "stored revision 1") {
		t.Errorf("warnings heading %q, want 2 warnings of stored revision 1", heads)
	}
	screenshot(ctx, t, "simulator-stored-warnings.png")
	do(ctx, t,
		chromedp.Click(chromedp.CSS(`#start`)),
		bubbleWith("flow", "Say something"),
		statusIs("waiting"),
		warningAt("widgets[1].timeout"),
	)
	if sys := texts(ctx, t, "#chat .system")[0]; !strings.HasSuffix(sys, "on tz revision 1") {
		t.Errorf("chat says %q, want the session on the stored tz revision 1", sys)
	}

	do(ctx, t,
		editFlow("Say something", "Say anything"),
		waitFor(`[...document.querySelectorAll('#flow-errors li')].some(li => li.textContent.includes('widgets[1].timeout'))`),
		chromedp.Click(chromedp.CSS(`#start`)),
		waitFor(`document.querySelector('#start-status').textContent.includes('fix them')`),
	)
	if errs := texts(ctx, t, "#flow-errors li"); len(errs) != 1 || !strings.Contains(errs[0], "widget ask") {
		t.Errorf("the edited flow's errors = %q, want the timeout of widget ask", errs)
	}
	if got := texts(ctx, t, ".bubble.flow"); len(got) != 1 {
		t.Errorf("flow bubbles = %q, want only the stored flow's greeting: the edited flow must not start", got)
	}
}

// TestSimulatorMockStatusChecked: a mock's status that is not a whole
// number from 100 to 599 is named under its row, and nothing starts; an
// empty one is 200, as the page says.
func TestSimulatorMockStatusChecked(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	const answer = `{"status": "Shipped", "order": "CU001", "name": "Ben Haggerty", "ship_date": "October 9th", "delivery_date": "April 3rd", "description": "Vogue White Wall x 4"}`
	refused := func(want string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.Click(chromedp.CSS(`#start`)),
			waitFor(fmt.Sprintf(`document.querySelector('.mock-error').textContent === %s`, js(want))),
			waitFor(`document.activeElement === document.querySelector('.mock-status')`),
		)
	}
	do(ctx, t,
		chromedp.Navigate(base+"/simulator"),
		chooseFlow("order-status", `"lookup"`),
		chromedp.Click(chromedp.CSS(`#add-mock`)),
		waitFor(`document.querySelector('.mock-widget').value === 'lookup'`),
		chromedp.SetValue(chromedp.CSS(`.mock-body`), answer),
		chromedp.SetValue(chromedp.CSS(`.mock-status`), "0"),
		refused(`Mock 1 (widget "lookup"): status 0 is not an HTTP status (100-599)`),
		chromedp.SetValue(chromedp.CSS(`.mock-status`), "99"),
		refused(`Mock 1 (widget "lookup"): status 99 is not an HTTP status (100-599)`),
		chromedp.SetValue(chromedp.CSS(`.mock-status`), "200.5"),
		refused(`Mock 1 (widget "lookup"): status "200.5" is not a whole number: give an HTTP status from 100 to 599`),
		// Typed text that is no number: the field holds "", and says so.
		chromedp.SetValue(chromedp.CSS(`.mock-status`), ""),
		chromedp.SendKeys(chromedp.CSS(`.mock-status`), "e"),
		waitFor(`document.querySelector('.mock-status').validity.badInput`),
		refused(`Mock 1 (widget "lookup"): the status is not a number: give an HTTP status from 100 to 599`),
	)
	if chat := texts(ctx, t, "#chat .bubble"); len(chat) != 0 {
		t.Fatalf("a session started with a wrong mock status: %q", chat)
	}
	// Empty is 200: the mock answers and the order is found.
	do(ctx, t,
		chromedp.SetValue(chromedp.CSS(`.mock-status`), ""),
		waitFor(`!document.querySelector('.mock-status').validity.badInput`),
		chromedp.Click(chromedp.CSS(`#start`)),
		waitFor(`document.querySelector('.mock-error').textContent === ''`),
		chromedp.WaitEnabled(chromedp.CSS(`#message`)),
		chromedp.SendKeys(chromedp.CSS(`#message`), "CU001"+kb.Enter),
		bubbleWith("flow", "Great news Ben Haggerty!"),
		waitFor(`[...document.querySelectorAll('#events li[data-type="webhook_called"] .estatus')].some(e => e.textContent.startsWith('200'))`),
	)
}

// The page and its files say that no other site may frame them and that
// they run only their own files.
func TestSimulatorSecurityHeaders(t *testing.T) {
	base := startServer(t)
	for _, path := range []string{"/simulator", "/simulator/simulator.js", "/simulator/simulator.css"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.StatusCode != 200 || resp.Header.Get("X-Frame-Options") != "DENY" ||
			!strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: %d, X-Frame-Options %q, Content-Security-Policy %q; want DENY, frame-ancestors 'none' and default-src 'self'",
				path, resp.StatusCode, resp.Header.Get("X-Frame-Options"), csp)
		}
	}
}

// TestSimulatorUnderItsPolicy: the page works under its Content Security
// Policy without a violation (a blocked inline style or script would show
// in the console), shows only http and https attachments as links, and a
// page of another origin cannot frame it.
func TestSimulatorUnderItsPolicy(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	var mu sync.Mutex
	var console []string
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	messages := chromedp.Console(cctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			console = append(console, m.String())
			mu.Unlock()
		}
	}()
	logged := func(part string) []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, m := range console {
			if strings.Contains(m, part) {
				out = append(out, m)
			}
		}
		return out
	}

	const flow = `{"id": "media", "name": "Media", "widgets": [
	  {"id": "m", "type": "send_message", "text": "Look", "attachments": [
	    "image/png:https://example.com/a.png", "javascript:alert(document.domain)",
	    "text/html:javascript:alert(1)", "data:text/html,<script>alert(1)</script>"],
	   "exits": {"Next": ""}}]}`
	do(ctx, t,
		chromedp.Navigate(base+"/simulator"),
		chooseFlow("order-status", `"lookup"`),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			const e = document.querySelector('#flow-json');
			e.value = %s;
			e.dispatchEvent(new Event('input'));
		})()`, js(flow))),
		chromedp.Click(chromedp.CSS(`#start`)),
		bubbleWith("flow", "Look"),
		// The stylesheet applies: the chat's bubbles have its layout.
		waitFor(`getComputedStyle(document.querySelector('.bubble.flow')).borderRadius !== '0px'`),
	)
	links, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.bubble.flow a')].map(a => a.getAttribute('href'))`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(links, " ") != "https://example.com/a.png" {
		t.Errorf("attachment links %q, want only https://example.com/a.png", links)
	}
	plain := texts(ctx, t, ".bubble.flow .attachment")
	if want := []string{"javascript:alert(document.domain)", "text/html:javascript:alert(1)", "data:text/html,<script>alert(1)</script>"}; strings.Join(plain, "|") != strings.Join(want, "|") {
		t.Errorf("attachments shown as text %q, want %q", plain, want)
	}
	if v := logged("Content Security Policy"); len(v) > 0 {
		t.Errorf("the page violates its policy: %q", v)
	}

	// Another origin's page that frames the simulator: the browser refuses.
	framer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><iframe id="f" src="%s/simulator"></iframe>`, base)
	}))
	defer framer.Close()
	do(ctx, t,
		chromedp.Navigate(framer.URL),
		waitFor(`document.readyState === 'complete'`),
	)
	deadline := time.Now().Add(10 * time.Second)
	for len(logged("frame-ancestors 'none'")) == 0 {
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("framing the simulator from %s was not refused for frame-ancestors 'none'; console:\n%s", framer.URL, strings.Join(console, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A check's answer that comes back after a later check's is not shown: the
// list below the editor is of the flow in it. The first check is held back
// in the page's fetch, as a slow link would hold a large flow's.
func TestSimulatorShowsTheLastCheck(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	bad := `{"id":"slow","name":"Slow","widgets":[{"id":"a","type":"send_message","text":"hi","exits":{"Next":"nowhere"}}]}`
	good := `{"id":"quick","name":"Quick","widgets":[{"id":"a","type":"send_message","text":"hi"}]}`
	do(ctx, t,
		chromedp.Navigate(base+"/simulator"),
		chooseFlow("favourite-colour", `"colour"`),
		chromedp.Evaluate[chromedp.Void](`(() => {
			const fetch0 = window.fetch;
			window.fetch = async (url, opts) => {
				const slow = String(url).endsWith('/v1/simulator/validate') && opts && String(opts.body).includes('nowhere');
				if (slow) window.slowSent = true;
				const r = await fetch0(url, opts);
				if (slow) {
					await new Promise(ok => setTimeout(ok, 2500));
					setTimeout(() => { window.slowAnswered = true; }, 100);
				}
				return r;
			};
		})()`),
		setFlow(bad),
		waitFor(`window.slowSent === true`),
		setFlow(good),
		waitFor(`window.slowAnswered === true`),
	)
	if errs := texts(ctx, t, "#flow-errors li"); len(errs) != 0 {
		t.Errorf("the list shows %q, the errors of a flow no longer in the editor", errs)
	}
}

// An author sends a photo with /attach and a location with /location: the
// flow routes them with has_image and has_location and sees their URL, and
// the contact's bubble shows the attachment; an attachment of another form
// is refused with the server's message and stays in the message box, to be
// corrected, where a message taken is cleared from it.
func TestSimulatorSendsAttachments(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	const flow = `{"id": "meter", "name": "Meter", "start": "ask", "widgets": [
		{"id": "ask", "type": "send_message", "text": "Send a photo of the meter", "exits": {"Next": "wait"}},
		{"id": "wait", "type": "wait_for_response", "result": "Meter",
		 "rules": [{"type": "has_image", "category": "Photo"}, {"type": "has_location", "category": "Place"}],
		 "exits": {"Photo": "got", "Place": "where", "Other": "ask"}},
		{"id": "where", "type": "send_message", "text": "You are at @flow.meter (@input.text)", "exits": {"Next": "wait"}},
		{"id": "got", "type": "send_message", "text": "Got @flow.meter", "exits": {"Next": "end"}},
		{"id": "end", "type": "end"}]}`
	send := func(text string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(chromedp.WaitEnabled(chromedp.CSS(`#message`)), chromedp.SendKeys(chromedp.CSS(`#message`), text+kb.Enter))
	}
	do(ctx, t,
		startOwnFlow(base, flow),
		bubbleWith("flow", "Send a photo of the meter"),
		send("/attach meter.jpg"),
		waitFor(`[...document.querySelectorAll('#chat .system.error')].some(s => s.textContent.includes('attachments[0]') && s.textContent.includes('is not CONTENT-TYPE:URL'))`),
		// The message the server refused stays in the box, to be corrected
		// rather than typed again.
		chromedp.WaitEnabled(chromedp.CSS(`#message`)),
		waitFor(`document.querySelector('#message').value === '/attach meter.jpg'`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#message").value = ""`),
		// The command alone sends nothing: the chat says what it needs,
		// as parley simulate does, and the text stays to be completed.
		send("/attach"),
		waitFor(`[...document.querySelectorAll('#chat .system.error')].some(s => s.textContent === '/attach needs an attachment: /attach image/jpeg:https://example.com/photo.jpg [TEXT]')`),
		waitFor(`document.querySelector('#message').value === '/attach'`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#message").value = ""`),
		send("/location"),
		waitFor(`[...document.querySelectorAll('#chat .system.error')].some(s => s.textContent === '/location needs a latitude and longitude: /location -1.2921,36.8219 [TEXT]')`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#message").value = ""`),
		send("/location -1.2921,36.8219 at home"),
		bubbleWith("flow", "You are at -1.2921,36.8219 (at home)"),
		// A message the flow took is cleared from the box.
		chromedp.WaitEnabled(chromedp.CSS(`#message`)),
		waitFor(`document.querySelector('#message').value === ''`),
		send("/attach image/jpeg:https://media.example.com/meter.jpg"),
		bubbleWith("flow", "Got https://media.example.com/meter.jpg"),
		statusIs("completed"),
	)
	links, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.bubble.contact a')].map(a => a.href)`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(links, " ") != "https://media.example.com/meter.jpg" {
		t.Errorf("links in the contact's bubbles %q, want the photo's", links)
	}
	if got := texts(ctx, t, ".bubble.contact"); len(got) != 3 || !strings.Contains(got[1], "geo:-1.2921,36.8219") {
		t.Errorf("contact bubbles %q, want the location shown", got)
	}
}

// A voice flow that records the caller: the page shows the record prompt
// and a form for the recording's URL and length; a URL the server refuses
// stays in the form, with its length, so the author can correct it; the
// recording taken is played back by the flow and the form cleared; a second
// recording step answered Nothing recorded takes its No Input exit.
func TestSimulatorGivesARecording(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	const flow = `{"id": "voicemail", "name": "Voicemail", "kind": "voice", "start": "ask", "widgets": [
		{"id": "ask", "type": "record_voice", "prompt": "Leave your message after the beep.", "result": "Message", "exits": {"Recording": "back", "No Input": "bye"}},
		{"id": "back", "type": "play", "url": "@flow.message", "exits": {"Next": "again"}},
		{"id": "again", "type": "record_voice", "prompt": "Anything else?", "play_beep": false, "exits": {"Recording": "bye", "No Input": "none"}},
		{"id": "none", "type": "say", "text": "Nothing more, then.", "exits": {"Next": "bye"}},
		{"id": "bye", "type": "hangup"}]}`
	const bad = "ftp://media.example.com/rec/RE1.wav"
	const rec = "https://media.example.com/rec/RE1.wav"
	do(ctx, t,
		startOwnFlow(base, flow),
		bubbleWith("flow", "Leave your message after the beep."),
		bubbleWith("flow", "Recording after the beep: up to 60s, 5s of silence or # ends it"),
		statusIs("waiting"),
		waitFor(`document.querySelector('#wait-info').textContent.startsWith('Waiting for a recording')`),
		chromedp.WaitVisible(chromedp.CSS(`#recording-form`)),
		chromedp.WaitEnabled(chromedp.CSS(`#recording-url`)),
		chromedp.SendKeys(chromedp.CSS(`#recording-seconds`), "7"),
		chromedp.SendKeys(chromedp.CSS(`#recording-url`), bad+kb.Enter),
		waitFor(`[...document.querySelectorAll('#chat .system.error')].some(s => s.textContent.includes('recording_url'))`),
		chromedp.WaitEnabled(chromedp.CSS(`#recording-url`)),
		waitFor(`document.querySelector('#recording-url').value === `+js(bad)+` && document.querySelector('#recording-seconds').value === '7'`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#recording-url").value = ""`),
		chromedp.SendKeys(chromedp.CSS(`#recording-url`), rec+kb.Enter),
		bubbleWith("contact", rec+" (7s)"),
		bubbleWith("flow", rec),
		bubbleWith("flow", "Recording after the prompt"),
		waitFor(`document.querySelector('#recording-url').value === '' && document.querySelector('#recording-seconds').value === ''`),
		chromedp.WaitEnabled(chromedp.CSS(`#no-recording`)),
		chromedp.Click(chromedp.CSS(`#no-recording`)),
		bubbleWith("flow", "Nothing more, then."),
		statusIs("completed"),
		chromedp.WaitNotVisible(chromedp.CSS(`#recording-form`)),
	)
	if got := texts(ctx, t, ".bubble.flow"); !strings.Contains(strings.Join(got, "|"), "plays"+rec) {
		t.Errorf("flow bubbles = %q, want the recording played back", got)
	}
}

// Hang up at a record_voice step ends the call as a caller hanging up on
// Twilio does: the page says the recording is still taken, Hang up is
// disabled, and a recording sent right after is the step's result; the
// flow goes on from it unheard, to its end here.
func TestSimulatorHangUpWhileRecording(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	const flow = `{"id": "voicemail", "name": "Voicemail", "kind": "voice", "start": "ask", "widgets": [
		{"id": "ask", "type": "record_voice", "prompt": "Leave your message after the beep.", "result": "Message", "exits": {"Recording": "thanks", "No Input": "bye"}},
		{"id": "thanks", "type": "say", "text": "Thanks.", "exits": {"Next": "bye"}},
		{"id": "bye", "type": "hangup"}]}`
	const rec = "https://media.example.com/rec/RE2.wav"
	do(ctx, t,
		startOwnFlow(base, flow),
		bubbleWith("flow", "Leave your message after the beep."),
		statusIs("waiting"),
		chromedp.WaitEnabled(chromedp.CSS(`#hangup`)),
		chromedp.Click(chromedp.CSS(`#hangup`)),
		bubbleWith("contact", "hung up"),
		waitFor(`[...document.querySelectorAll('#chat .system')].some(s => s.textContent.startsWith('The call ended while recording: a recording sent until '))`),
		statusIs("waiting"),
		waitFor(`document.querySelector('#hangup').disabled`),
		chromedp.WaitVisible(chromedp.CSS(`#recording-form`)),
		chromedp.WaitEnabled(chromedp.CSS(`#recording-url`)),
		chromedp.SendKeys(chromedp.CSS(`#recording-url`), rec+kb.Enter),
		bubbleWith("contact", rec),
		statusIs("completed"),
		waitFor(`document.querySelector('#variables-view').textContent.includes('@flow.message')`),
	)
	vars := texts(ctx, t, "#variables-view")[0]
	if !strings.Contains(vars, rec) || !strings.Contains(vars, "completed") {
		t.Errorf("variables after the recording = %q, want @flow.message the recording and $call.state completed", vars)
	}
}

// Expire now (or /expire typed) expires the session as its expiry would:
// the subflow's Expired path runs, then the session ends as expired.
func TestSimulatorExpire(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	resp, err := http.Post(base+"/v1/flows", "application/json", strings.NewReader(`{"id": "rating", "name": "Rating", "expire_minutes": 30, "widgets": [
		{"id": "ask", "type": "send_message", "text": "Rate us from 1 to 5", "exits": {"Next": "wait"}},
		{"id": "wait", "type": "wait_for_response", "exits": {"Next": ""}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/flows: %s", resp.Status)
	}
	const flow = `{"id": "survey", "name": "Survey", "widgets": [
		{"id": "sub", "type": "subflow", "flow": "rating", "exits": {"Complete": "thanks", "Expired": "late"}},
		{"id": "thanks", "type": "send_message", "text": "Thanks", "exits": {"Next": ""}},
		{"id": "late", "type": "send_message", "text": "You went quiet", "exits": {"Next": "again"}},
		{"id": "again", "type": "wait_for_response", "exits": {"Next": ""}}]}`
	do(ctx, t,
		startOwnFlow(base, flow),
		bubbleWith("flow", "Rate us from 1 to 5"),
		statusIs("waiting"),
		chromedp.WaitEnabled(chromedp.CSS(`#expire`)),
		chromedp.Click(chromedp.CSS(`#expire`)),
		bubbleWith("flow", "You went quiet"),
		statusIs("waiting"),
		chromedp.WaitEnabled(chromedp.CSS(`#message`)),
		chromedp.SendKeys(chromedp.CSS(`#message`), "/expire"+kb.Enter),
		statusIs("expired"),
		waitFor(`document.querySelector('#expire').disabled`),
	)
	if got := texts(ctx, t, ".bubble.flow"); strings.Join(got, "|") != "Rate us from 1 to 5|You went quiet" {
		t.Errorf("flow bubbles = %q", got)
	}
	if got := texts(ctx, t, ".bubble.contact"); len(got) != 0 {
		t.Errorf("contact bubbles = %q, want none: /expire is no message", got)
	}
	if sys := strings.Join(texts(ctx, t, "#chat .system"), "|"); strings.Count(sys, "Session expiry passed") != 2 || !strings.Contains(sys, "Session expired") {
		t.Errorf("chat says %q, want each expiry and the session's end", sys)
	}
}
