package server

import (
	"context"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/parleyhq/parley/examples"
	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/store"
)

// DemoChannel is the channel created on first start.
const DemoChannel = "demo"

// seed fills an empty store: every examples/*/flow.json becomes a published
// flow, and channel "demo" answers messages with the order status example
// and calls with the first voice example.
func (s *Server) seed(ctx context.Context) error {
	existing, err := s.store.ListFlows(ctx)
	if err != nil {
		return err
	}
	if len(existing) > 0 || len(s.svc.channels.list()) > 0 {
		return nil
	}
	fsys := s.cfg.Examples
	if fsys == nil {
		fsys = examples.FS
	}
	demo := &Channel{ID: DemoChannel, Name: "Demo", Type: ChannelAPI}
	if fsys != nil {
		files, err := fs.Glob(fsys, "*/flow.json")
		if err != nil {
			return err
		}
		sort.Strings(files)
		for _, file := range files {
			dir := path.Dir(file)
			id, kind, err := s.seedFlow(ctx, fsys, file, dir)
			if err != nil {
				s.log.Warn("example flow not loaded", "file", file, "err", err)
				continue
			}
			s.log.Info("loaded example flow", "file", file, "flow", id)
			if demo.DefaultFlow == "" && isOrderStatus(dir, id) {
				demo.DefaultFlow = id
			}
			if demo.VoiceFlow == "" && kind == flows.KindVoice {
				demo.VoiceFlow = id
			}
		}
	}
	if _, err := s.svc.channels.put(ctx, demo); err != nil {
		return err
	}
	s.log.Info("created channel", "channel", demo.ID, "default_flow", demo.DefaultFlow)
	return nil
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

// seedFlow stores and publishes one example; its id is the flow's own or the
// directory name.
func (s *Server) seedFlow(ctx context.Context, fsys fs.FS, file, dir string) (string, string, error) {
	doc, err := fs.ReadFile(fsys, file)
	if err != nil {
		return "", "", err
	}
	f, err := s.eng.Load(doc)
	if err != nil {
		return "", "", err
	}
	id := f.ID
	if id == "" {
		id = dir
		if doc, err = withID(doc, id); err != nil {
			return "", "", err
		}
	}
	if _, err := s.svc.flows.save(ctx, store.NewFlow{ID: id, Name: nameOf(f), Kind: f.Kind, Definition: doc}); err != nil {
		return "", "", err
	}
	if _, err := s.svc.flows.publish(ctx, id, 0); err != nil {
		return "", "", err
	}
	return id, f.Kind, nil
}
