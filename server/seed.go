package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/parleyhq/parley/examples"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// DemoChannel is the channel created on first start.
const DemoChannel = "demo"

// seed fills a new store: every examples/*/flow.json becomes a published
// flow, and channel "demo" answers messages with the order status example
// and calls with the first voice example. It is all or nothing: the flows,
// the channel and the store's record that it was seeded are written in one
// transaction, and a seed that cannot be written (a full disk) stops the
// start, leaving the store empty so that the next start seeds it again. A
// store seeded once is never seeded again, so examples an operator deleted
// stay deleted. An example that does not load is left out with a warning.
func (s *Server) seed(ctx context.Context) error {
	done, err := s.store.Seeded(ctx)
	if err != nil {
		return err
	}
	if done {
		return nil
	}
	fsys := s.cfg.Examples
	if fsys == nil {
		fsys = examples.FS
	}
	demo := &Channel{ID: DemoChannel, Name: "Demo", Type: ChannelAPI}
	var seeded []store.NewFlow
	var files []string
	if fsys != nil {
		found, err := fs.Glob(fsys, "*/flow.json")
		if err != nil {
			return err
		}
		sort.Strings(found)
		for _, file := range found {
			dir := path.Dir(file)
			nf, err := s.exampleFlow(fsys, file, dir)
			if err != nil {
				s.log.Warn("example flow not loaded", "file", file, "err", err)
				continue
			}
			seeded = append(seeded, nf)
			files = append(files, file)
			if demo.DefaultFlow == "" && isOrderStatus(dir, nf.ID) {
				demo.DefaultFlow = nf.ID
			}
			if demo.VoiceFlow == "" && nf.Kind == flows.KindVoice {
				demo.VoiceFlow = nf.ID
			}
		}
	}
	ch, err := json.Marshal(demo)
	if err != nil {
		return err
	}
	err = s.store.Seed(ctx, seeded, []store.SeedConfig{{Collection: store.Channels, ID: demo.ID, Value: ch}})
	if err != nil {
		return fmt.Errorf("seed the new store %s with the example flows (%s) and channel %q: %w; nothing was written, "+
			"the next start seeds it again", s.storePath(), strings.Join(files, ", "), demo.ID, err)
	}
	for i, nf := range seeded {
		s.svc.flows.changed(nf.ID)
		s.log.Info("loaded example flow", "file", files[i], "flow", nf.ID)
	}
	s.svc.channels.loaded(demo)
	s.log.Info("created channel", "channel", demo.ID, "default_flow", demo.DefaultFlow)
	return nil
}

// storePath names the store file for messages.
func (s *Server) storePath() string {
	if b, ok := s.store.(*store.Bolt); ok {
		return b.DB().Path()
	}
	return filepath.Join(s.cfg.DataDir, DBFile)
}

func isOrderStatus(names ...string) bool {
	for _, n := range names {
		n = strings.ToLower(n)
		if strings.Contains(n, "order") {
			return true
		}
	}
	return false
}

// exampleFlow reads and checks one example; its id is the flow's own or
// the directory name.
func (s *Server) exampleFlow(fsys fs.FS, file, dir string) (store.NewFlow, error) {
	doc, err := fs.ReadFile(fsys, file)
	if err != nil {
		return store.NewFlow{}, err
	}
	f, err := s.eng.Load(doc)
	if err != nil {
		return store.NewFlow{}, err
	}
	id := f.ID
	if id == "" {
		id = dir
		if doc, err = withID(doc, id); err != nil {
			return store.NewFlow{}, err
		}
	}
	return store.NewFlow{ID: id, Name: nameOf(f), Kind: f.Kind, Definition: doc}, nil
}
