// Tests of the NameNode's status page: its JSON, and the page itself loaded in a real headless browser (Debian's chromium), as a person would see it.

package chkv

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// browser runs headless chromium; the test skips, saying why, without it.
type browser struct {
	t   testing.TB
	bin string
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if bin, err := exec.LookPath(name); err == nil {
			return &browser{t: t, bin: bin}
		}
	}
	t.Skip("SKIP: no chromium on PATH (apt-get install chromium): the status page is not tested in a browser")
	return nil
}

// run runs chromium headless on url with extra flags and returns its stdout.
func (b *browser) run(url string, flags ...string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions", "--hide-scrollbars",
		"--user-data-dir=" + b.t.TempDir(), "--virtual-time-budget=2500", "--window-size=1440,900",
	}, flags...)
	cmd := exec.CommandContext(ctx, b.bin, append(args, url)...)
	cmd.Stderr = io.Discard
	out, err := cmd.Output()
	require.NoError(b.t, err, "chromium %v", flags)
	return out
}

// dom loads url and returns the page's DOM once its scripts have run.
func (b *browser) dom(url string) string { return string(b.run(url, "--dump-dom")) }

// screenshot loads url and returns the PNG of the window.
func (b *browser) screenshot(url string) image.Image {
	b.t.Helper()
	path := filepath.Join(b.t.TempDir(), "shot.png")
	b.run(url, "--screenshot="+path)
	f, err := os.Open(path)
	require.NoError(b.t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(b.t, err)
	return img
}

// attr returns the value of attribute name of the element with id in html.
func attr(t testing.TB, html, id, name string) string {
	t.Helper()
	el := regexp.MustCompile(`<[a-z]+ [^>]*id="` + id + `"[^>]*>`).FindString(html)
	require.NotEmpty(t, el, "no element #%s in the page", id)
	m := regexp.MustCompile(` ` + name + `="([^"]*)"`).FindStringSubmatch(el)
	require.NotNil(t, m, "#%s has no %s: %s", id, name, el)
	return m[1]
}

func attrInt(t testing.TB, html, id, name string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(attr(t, html, id, name), 10, 64)
	require.NoError(t, err)
	return v
}

// colouredAreas counts the distinct saturated colours that cover at least
// min pixels of img: each member's slots are drawn in a colour of its own.
func colouredAreas(img image.Image, min int) int {
	counts := map[[3]uint32]int{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			hi, lo := max(cr, cg, cb)>>8, min32(cr, cg, cb)>>8
			if hi-lo > 60 { // saturated: not text, lines or background
				counts[[3]uint32{cr >> 8, cg >> 8, cb >> 8}]++
			}
		}
	}
	n := 0
	for _, c := range counts {
		if c >= min {
			n++
		}
	}
	return n
}

func min32(a, b, c uint32) uint32 { return min(a, b, c) }

func TestStatusPageJSON(t *testing.T) {
	c := NewClusterT(t)
	srv := httptest.NewServer(c.NameNode().StatusPage())
	defer srv.Close()
	get := func(path string) statusPageJSON {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var d statusPageJSON
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&d))
		return d
	}
	tab := c.NameNode().Table()
	d := get("/status.json")
	require.NotNil(t, d.Map)
	require.Equal(t, tab.Version, d.Map.Version)
	require.Len(t, d.Map.Owners, NumSlots)
	for _, s := range []int{0, 5000, NumSlots - 1} {
		var want []string
		for _, id := range tab.Owners(s) {
			want = append(want, string(id))
		}
		var got []string
		for _, i := range d.Map.Owners[s] {
			got = append(got, d.Map.Members[i])
		}
		require.Equal(t, want, got, "owners of slot %d", s)
	}
	require.Empty(t, d.Moving)
	require.NotEmpty(t, d.Events)
	require.Equal(t, tab.Version, d.Events[len(d.Events)-1].Version)
	require.Nil(t, get(fmt.Sprintf("/status.json?have=%d", tab.Version)).Map, "the map is sent again only when the version changed")

	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Get(srv.URL + "/nothing")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestStatusPageBrowser loads the page in headless chromium: the members
// listed with their state, the slot map drawn in one colour per primary,
// and the progress of a join moving forward. With CHKV_STATUS_SCREENSHOT
// set to a path, it saves a screenshot taken during the join there (the
// README's docs/status.png).
func TestStatusPageBrowser(t *testing.T) {
	b := newBrowser(t)
	c := NewClusterT(t, func(cfg *ClusterConfig) {
		cfg.MigrateRate = 50 // keys per second per sender: the join takes several seconds, so a loaded machine, whose chromium takes seconds per page, still sees it under way (at 400 a CI run beside other work saw only its end)
		cfg.MigrateBatch = 64
	})
	srv := httptest.NewServer(c.NameNode().StatusPage())
	defer srv.Close()
	ctx := context.Background()

	html := b.dom(srv.URL)
	tab := c.NameNode().Table()
	for _, m := range tab.Members {
		require.Regexp(t, `<tr data-member="`+string(m.ID)+`" data-state="up">`, html, "member row")
		require.Contains(t, html, "<td>"+m.Addr+"</td>")
	}
	require.Equal(t, int64(NumSlots), attrInt(t, html, "slotmap", "data-drawn"), "cells drawn")
	require.Equal(t, int64(tab.Version), attrInt(t, html, "slotmap", "data-version"))
	require.Equal(t, "false", attr(t, html, "progress", "data-active"))
	require.Equal(t, len(tab.Members), colouredAreas(b.screenshot(srv.URL), 20000), "one coloured area per primary in the screenshot")

	// A slot's owners, as hovering its cell shows them (#slot=N shows the same).
	const slot = 5000
	owner := func(id NodeID) string {
		m, ok := tab.Member(id)
		require.True(t, ok)
		return fmt.Sprintf("%s (%s, %s)", id, m.Addr, m.State)
	}
	owners := tab.Owners(slot)
	require.Len(t, owners, 2)
	html = b.dom(srv.URL + "/#slot=" + strconv.Itoa(slot))
	require.Contains(t, html, fmt.Sprintf("slot %d\nprimary: %s\nreplicas: %s</div>", slot, owner(owners[0]), owner(owners[1])))

	cl := newTestClient(t, ClientConfig{NameNode: c.NameNodeAddr(), Transport: c.Transport()})
	for i := range 4000 {
		require.NoError(t, cl.Set(ctx, fmt.Sprint("key:", i), "value"))
	}
	_, err := c.AddDataNode(ctx)
	require.NoError(t, err)

	// The page shows the movement under way, then further along.
	var first int64 = -1
	deadline := time.Now().Add(2 * time.Minute)
	for {
		require.True(t, time.Now().Before(deadline), "the page never showed the join's progress moving")
		html := b.dom(srv.URL)
		active := attr(t, html, "progress", "data-active") == "true"
		keys := attrInt(t, html, "progress", "data-keys-moved")
		if first < 0 {
			if active {
				first = keys
				require.Regexp(t, `<tr data-member="dn4" data-state="(joining|up)">`, html)
				require.Greater(t, attrInt(t, html, "slotmap", "data-moving"), int64(0), "slots to move marked on the map")
				require.Regexp(t, `id="progress"[^>]*>moving: [0-9,]+ slots moved, [0-9,]+ to go, `, html)
				require.Equal(t, attrInt(t, html, "slotmap", "data-moving"), attrInt(t, html, "progress", "data-slots-left"))
				if path := os.Getenv("CHKV_STATUS_SCREENSHOT"); path != "" {
					shot := filepath.Join(t.TempDir(), "shot.png")
					b.run(srv.URL+"/#slot=2200", "--screenshot="+shot, "--window-size=1440,820")
					data, err := os.ReadFile(shot)
					require.NoError(t, err)
					require.NoError(t, os.WriteFile(path, data, 0o644))
				}
			}
			continue
		}
		if keys > first || !active {
			require.Greater(t, keys, first, "keys moved went from %d to %d", first, keys)
			break
		}
	}
	require.NoError(t, c.WaitStable(ctx))
	html = b.dom(srv.URL)
	require.Equal(t, "false", attr(t, html, "progress", "data-active"))
	require.Greater(t, attrInt(t, html, "progress", "data-slots-done"), int64(0))
	require.Equal(t, int64(0), attrInt(t, html, "progress", "data-slots-left"))
	require.Regexp(t, `id="progress"[^>]*>done: `, html)
	require.Equal(t, int64(0), attrInt(t, html, "slotmap", "data-moving"))
	require.Regexp(t, `<tr data-member="dn4" data-state="up">`, html)
	require.Contains(t, html, "dn4 added")
}
