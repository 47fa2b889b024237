// Ring benchmarks: the next table of a 1,000-node cluster with R = 2, and the table's encoding and decoding.

package chkv

import (
	"fmt"
	"testing"
)

// benchCluster returns a table of n up nodes over 4 racks with R = 2.
func benchCluster(b *testing.B, n int) (*Table, RingConfig) {
	b.Helper()
	cfg := RingConfig{Replicas: 2}
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{ID: NodeID(fmt.Sprintf("node-%04d", i)), Addr: fmt.Sprintf("10.0.%d.%d:7000", i/250, i%250), Rack: fmt.Sprintf("rack-%d", i%4)}
	}
	tb, err := NewTable(ms, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return tb, cfg
}

func BenchmarkNextTable(b *testing.B) {
	tb, cfg := benchCluster(b, 1000)
	for _, c := range []struct {
		name string
		ch   Change
	}{
		{"join", Change{Kind: ChangeJoin, Member: Member{ID: "node-new", Rack: "rack-1"}}},
		{"leave", Change{Kind: ChangeLeave, Member: Member{ID: "node-0500"}}},
		{"fail", Change{Kind: ChangeFail, Member: Member{ID: "node-0500"}}},
	} {
		b.Run(fmt.Sprintf("nodes=1000/R=2/%s", c.name), func(b *testing.B) {
			for b.Loop() {
				if _, err := NextTable(tb, c.ch, cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNewTable(b *testing.B) {
	for b.Loop() {
		benchCluster(b, 1000)
	}
}

func BenchmarkTableEncode(b *testing.B) {
	tb, _ := benchCluster(b, 1000)
	var size int
	for b.Loop() {
		enc, err := tb.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		size = len(enc)
	}
	b.ReportMetric(float64(size), "bytes")
	b.ReportMetric(float64(len(tb.Ranges())), "ranges")
}

func BenchmarkTableDecode(b *testing.B) {
	tb, _ := benchCluster(b, 1000)
	enc, err := tb.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		var got Table
		if err := got.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}
