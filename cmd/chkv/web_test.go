// Tests of --metrics-addr on every server command and of --http, the NameNode's status page.

package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/chkv/chkv"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"
)

// metricValue scrapes url and returns the sum of the values of family
// name over the metrics whose labels include want (name, value pairs).
func metricValue(t *testing.T, url, name string, want ...string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	total := 0.0
	f := fams[name]
	if f == nil {
		return 0
	}
	for _, m := range f.Metric {
		if hasLabels(m, want) {
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return total
}

func hasLabels(m *dto.Metric, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, lp := range m.Label {
			found = found || lp.GetName() == want[i] && lp.GetValue() == want[i+1]
		}
		if !found {
			return false
		}
	}
	return true
}

// printed waits until out has a line matching re and returns its first group.
func printed(t *testing.T, out *syncBuffer, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	var got string
	waitFor(t, "output matching "+re, func() bool {
		m := rx.FindStringSubmatch(out.String())
		if m != nil {
			got = m[1]
		}
		return m != nil
	})
	return got
}

func TestMetricsAddrEveryRole(t *testing.T) {
	var srvOut, nnOut, dnOut, clOut syncBuffer
	srvDone := runBackground(&srvOut, "server", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0")
	nnDone := runBackground(&nnOut, "namenode", "--addr", "127.0.0.1:0", "--replicas", "0", "--metrics-addr", "127.0.0.1:0", "--http", "127.0.0.1:0", "--http-secret", "s3cret")
	clDone := runBackground(&clOut, "cluster", "--port", "0", "--datanodes", "2", "--replicas", "1", "--metrics-addr", "127.0.0.1:0", "--http", "127.0.0.1:0")
	nnAddr := printed(t, &nnOut, `NameNode ready on (\S+):`)
	dnDone := runBackground(&dnOut, "datanode", "--addr", "127.0.0.1:0", "--namenode", nnAddr, "--id", "dn1", "--metrics-addr", "127.0.0.1:0")
	defer func() {
		syscall.Kill(syscall.Getpid(), syscall.SIGTERM) // every command above stops on it
		for _, d := range []struct {
			done <-chan result
			out  *syncBuffer
		}{{srvDone, &srvOut}, {nnDone, &nnOut}, {dnDone, &dnOut}, {clDone, &clOut}} {
			if err := await(t, d.done, d.out); err != nil {
				t.Errorf("%v; output:\n%s", err, d.out)
			}
		}
	}()
	metricsRe := `metrics: (http://\S+/metrics)`

	t.Run("server", func(t *testing.T) {
		url := printed(t, &srvOut, metricsRe)
		rc := redis.NewClient(&redis.Options{Addr: printed(t, &srvOut, `DataNode ready on (\S+) `)})
		defer rc.Close()
		for _, k := range []string{"a", "b", "c"} {
			if err := rc.Set(context.Background(), k, "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if got := metricValue(t, url, "chkv_commands_total", "cmd", "set"); got != 3 {
			t.Fatalf("chkv_commands_total{cmd=set} = %v after 3 SETs", got)
		}
		if got := metricValue(t, url, "chkv_keys"); got != 3 {
			t.Fatalf("chkv_keys = %v after 3 SETs", got)
		}
	})
	t.Run("namenode and datanode", func(t *testing.T) {
		nnURL, dnURL := printed(t, &nnOut, metricsRe), printed(t, &dnOut, metricsRe)
		waitFor(t, "dn1 up at the NameNode", func() bool {
			return metricValue(t, nnURL, "chkv_namenode_members", "state", "up") == 1
		})
		waitFor(t, "dn1 leading every slot", func() bool {
			return metricValue(t, dnURL, "chkv_slots", "role", "primary") == chkv.NumSlots
		})
		if v := metricValue(t, dnURL, "chkv_table_version"); v < 1 {
			t.Fatalf("DataNode's chkv_table_version = %v", v)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		url := printed(t, &clOut, metricsRe)
		printed(t, &clOut, `(ready): all`)
		if got := metricValue(t, url, "chkv_namenode_members", "state", "up"); got != 2 {
			t.Fatalf("chkv_namenode_members{state=up} = %v, want 2", got)
		}
		for _, role := range []string{"primary", "replica"} {
			if got := metricValue(t, url, "chkv_slots", "role", role); got != chkv.NumSlots {
				t.Fatalf("chkv_slots{role=%s} summed over the DataNodes = %v, want %d", role, got, chkv.NumSlots)
			}
		}
		page := printed(t, &clOut, `status page: (http://\S+/)`)
		resp, err := http.Get(page)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `id="slotmap"`) {
			t.Fatalf("GET %s: %s\n%.200s", page, resp.Status, body)
		}
	})
	t.Run("status page secret", func(t *testing.T) {
		page := printed(t, &nnOut, `status page: (http://\S+/)`)
		for _, tc := range []struct {
			name, pass string
			want       int
		}{{"none", "", http.StatusUnauthorized}, {"wrong", "nope", http.StatusUnauthorized}, {"right", "s3cret", http.StatusOK}} {
			req, _ := http.NewRequest("GET", page+"status.json", nil)
			if tc.pass != "" {
				req.SetBasicAuth("admin", tc.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s password: %s, want %d", tc.name, resp.Status, tc.want)
			}
		}
	})
}

func TestStatusPageRefusesRemote(t *testing.T) {
	err := run([]string{"namenode", "--addr", "127.0.0.1:0", "--http", "0.0.0.0:0"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "non-loopback") {
		t.Fatalf("namenode --http 0.0.0.0:0 without a secret: %v, want a refusal", err)
	}
}
