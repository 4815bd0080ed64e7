package rapidprodata

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// Dir returns the shared RapidPro test data folder, or "" when it is absent.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	d := filepath.Join(dir, "..", "shared", "testdata", "rapidpro")
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return ""
}

// Transcript is one reference conversation (see the folder's README.md).
type Transcript struct {
	// Name is the file name without ".json".
	Name        string `json:"-"`
	FlowFile    string `json:"flow_file"`
	Description string `json:"description"`
	Contact     struct {
		Name     string            `json:"name"`
		URN      string            `json:"urn"`
		Language string            `json:"language"`
		Fields   map[string]string `json:"fields"`
		Groups   []string          `json:"groups"`
	} `json:"contact"`
	Inputs []string            `json:"inputs"`
	Mocks  map[string][]Answer `json:"mocks"`
	Turns  []struct {
		Input    *string  `json:"input"`
		Messages []string `json:"messages"`
	} `json:"turns"`
	FinalStatus string `json:"final_status"`
	Results     map[string]struct {
		Value    string `json:"value"`
		Category string `json:"category"`
	} `json:"results"`
}

// Answer is a mocked webhook answer.
type Answer struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// Unreproducible lists conversations that no implementation can reproduce from
// their own data, with the reason.
var Unreproducible = map[string]string{
	"dual_webhook.success": "its mocks have no answer for POST http://localhost:49999/code, yet it expects {\"code\":\"ABC123\"} from it; " +
		"dual_webhook.code_webhook_fails has the same inputs and mocks and expects a 500 from that call, so the two cannot both pass",
}

// Transcripts reads every conversation in dir/transcripts, sorted by name.
func Transcripts(dir string) ([]*Transcript, error) {
	files, err := filepath.Glob(filepath.Join(dir, "transcripts", "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	out := make([]*Transcript, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		tr := &Transcript{}
		if err := json.Unmarshal(data, tr); err != nil {
			return nil, &os.PathError{Op: "decode", Path: f, Err: err}
		}
		tr.Name = strings.TrimSuffix(filepath.Base(f), ".json")
		out = append(out, tr)
	}
	return out, nil
}
