package main

import (
	"path/filepath"
	"strings"
	"testing"
)

const voicemailFlow = `{"id": "voicemail", "name": "Voicemail", "kind": "voice", "widgets": [
 {"id": "ask", "type": "record_voice", "prompt": "Leave your message after the beep.", "result": "Message", "exits": {"Recording": "back", "No Input": "none"}},
 {"id": "back", "type": "say", "text": "Got @flow.message, @flow.message.extra.duration seconds.", "exits": {"Next": "bye"}},
 {"id": "none", "type": "say", "text": "No message.", "exits": {"Next": "bye"}},
 {"id": "bye", "type": "hangup"}]}`

// parley simulate answers a recording step with a line: /record URL
// SECONDS, a URL alone, or an empty line for nothing recorded; stderr
// says what the step needs.
func TestSimulateRecording(t *testing.T) {
	path := writeFile(t, t.TempDir(), "voicemail.json", voicemailFlow)
	for _, c := range []struct{ in, out string }{
		{"/record https://x.test/r1.wav 9\n", "Leave your message after the beep.\nGot https://x.test/r1.wav, 9 seconds.\n"},
		{"https://x.test/r2.wav\n", "Leave your message after the beep.\nGot https://x.test/r2.wav,  seconds.\n"},
		{"\n", "Leave your message after the beep.\nNo message.\n"},
		{"/timeout\n", "Leave your message after the beep.\nNo message.\n"},
	} {
		code, stdout, stderr := runCmd(t, c.in, "simulate", path)
		if code != 0 || stdout != c.out || !strings.Contains(stderr, "[recording, up to 60s: send its URL (or /record URL SECONDS), or an empty line for nothing recorded]") {
			t.Errorf("input %q: exit %d\nstdout %q, want %q\nstderr %q", c.in, code, stdout, c.out, stderr)
		}
	}
	code, _, stderr := runCmd(t, "/record https://x.test/r.wav long\n", "simulate", path)
	if code != 0 || !strings.Contains(stderr, `parley simulate: /record https://x.test/r.wav long: the length "long" is not a whole number of seconds (/record URL [SECONDS])`) {
		t.Errorf("a bad length: exit %d, stderr %q", code, stderr)
	}
}

// A scripted conversation gives a recording with /record, and checks the
// result it saved.
func TestTestCommandRecording(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "voicemail.json", voicemailFlow)
	writeFile(t, dir, "tests/left.test.json", `{"flow": "../voicemail.json", "conversation": [
	  {"expect": ["Leave your message after the beep."]},
	  {"send": "/record https://x.test/r1.wav 4", "expect": ["Got https://x.test/r1.wav, 4 seconds."]}],
	 "final_status": "completed", "results": {"Message": {"value": "https://x.test/r1.wav", "category": "Recording"}}}`)
	writeFile(t, dir, "tests/none.test.json", `{"flow": "../voicemail.json", "conversation": [
	  {"expect": ["Leave your message after the beep."]},
	  {"send": "/record", "expect": ["No message."]}],
	 "final_status": "completed", "results": {"Message": {"value": "", "category": "No Input"}}}`)
	code, stdout, stderr := runCmd(t, "", "test", dir)
	if code != 0 || !strings.Contains(stdout, "2 passed, 0 failed") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

// A recording that is not an absolute http or https URL is refused as the
// server refuses it, naming what was typed and what to give: the turn is
// not taken (the step goes on waiting), in parley simulate and in a test
// script, which fails instead of passing with a URL no call could bring.
func TestRecordingURLChecked(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "voicemail.json", voicemailFlow)
	for _, c := range []struct{ in, stderr string }{
		{"/record r1.wav 4\n/record https://x.test/r1.wav 4\n",
			`parley simulate: /record r1.wav 4: the recording's URL "r1.wav" is not an absolute http or https URL: give the recording's URL (/record https://example.com/r.wav [SECONDS]), or /record alone when nothing was recorded`},
		{"5\nhttps://x.test/r1.wav\n",
			`parley simulate: "5" is not a recording: this step waits for a recording, and a line here is its URL, an absolute http or https URL (or /record URL [SECONDS]; an empty line or /record alone when nothing was recorded)`},
	} {
		code, stdout, stderr := runCmd(t, c.in, "simulate", path)
		if code != 0 || !strings.Contains(stderr, c.stderr) || !strings.Contains(stdout, "Got https://x.test/r1.wav") {
			t.Errorf("input %q: exit %d\nstdout %q\nstderr %q\nwant on stderr %q", c.in, code, stdout, stderr, c.stderr)
		}
	}
	writeFile(t, dir, "tests/relative.test.json", `{"flow": "../voicemail.json", "conversation": [
	  {"expect": ["Leave your message after the beep."]},
	  {"send": "/record recording.wav 4", "expect": ["Got recording.wav, 4 seconds."]}]}`)
	code, stdout, _ := runCmd(t, "", "test", filepath.Join(dir, "tests"))
	if code != 1 || !strings.Contains(stdout, `the recording's URL "recording.wav" is not an absolute http or https URL`) {
		t.Errorf("a script with a relative recording URL: exit %d\n%s", code, stdout)
	}
}
