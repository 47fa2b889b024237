// Rendering of a cluster status snapshot as text: the member table, the progress bar of data movement and its plain one-line form; pure functions, snapshot in, text out.

package main

import (
	"cmp"
	"fmt"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/chkv/chkv"
)

// clusterStatus is the NameNode's CHKV.STATUS reply.
type clusterStatus struct {
	Version   uint64                     `json:"version"`
	Stable    bool                       `json:"stable"`
	Replicas  int                        `json:"replicas"`
	Members   []chkv.ClusterMemberStatus `json:"members"`
	Migration chkv.MigrationStatus       `json:"migration"`
	// Raft is the answering NameNode's member of its Raft group; nil alone.
	Raft *raftStatus `json:"raft,omitempty"`
	// NameNodes is every NameNode's Raft member, when chkv status was
	// given the list of a group (not part of CHKV.STATUS).
	NameNodes []raftStatus `json:"namenodes,omitempty"`
}

// raftStatus is one NameNode's Raft member in CHKV.STATUS ("raft").
type raftStatus struct {
	ID          string `json:"id"`
	Addr        string `json:"addr"`
	Role        string `json:"role"`
	Term        uint64 `json:"term"`
	LastApplied uint64 `json:"last_applied"`
	LeaderID    string `json:"leader_id"`
	LeaderAddr  string `json:"leader_addr"`
}

// member returns the member id, if the status has it.
func (st *clusterStatus) member(id chkv.NodeID) (chkv.ClusterMemberStatus, bool) {
	for _, m := range st.Members {
		if m.ID == id {
			return m, true
		}
	}
	return chkv.ClusterMemberStatus{}, false
}

// moving reports whether data is moving or a member is still joining or
// leaving: the cluster has not settled after a change.
func (st *clusterStatus) moving() bool {
	if st.Migration.Active {
		return true
	}
	for _, m := range st.Members {
		if m.State == "joining" || m.State == "leaving" {
			return true
		}
	}
	return false
}

// barWidth is the width of the progress bar on a terminal, in characters.
const barWidth = 20

// renderStatus renders the full status: a summary line, one row per member
// with its slots and its share of the data movement, and the movement's
// progress. lost is the count of slots with no owner, -1 when unknown.
func renderStatus(st clusterStatus, lost int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table version %d, %d replica(s), stable: %v", st.Version, st.Replicas, st.Stable)
	if lost >= 0 {
		fmt.Fprintf(&b, ", lost slots: %d", lost)
	}
	b.WriteString("\n")
	nns := st.NameNodes
	if nns == nil && st.Raft != nil {
		nns = []raftStatus{*st.Raft}
	}
	if len(nns) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAMENODE\tADDR\tROLE\tTERM\tLAST APPLIED")
		for _, n := range nns {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", cmp.Or(n.ID, "-"), n.Addr, n.Role, n.Term, n.LastApplied)
		}
		tw.Flush()
	}
	moves := map[chkv.NodeID]chkv.NodeMigrationStatus{}
	for _, n := range st.Migration.Nodes {
		moves[n.ID] = n
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDR\tRACK\tSTATE\tPRIMARIES\tREPLICAS\tSLOTS IN\tSLOTS OUT\tKEYS IN\tKEYS OUT\tBYTES IN\tBYTES OUT")
	for _, m := range st.Members {
		mv := moves[m.ID]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", m.ID, m.Addr, m.Rack, m.State, m.Primaries, m.Replicas,
			mv.SlotsIn, mv.SlotsOut, humanCount(mv.KeysIn), humanCount(mv.KeysOut), humanBytes(mv.BytesIn), humanBytes(mv.BytesOut))
	}
	tw.Flush()
	b.WriteString(migrationSummary(st.Migration))
	b.WriteString("\n")
	if c := copySummary(st.Migration); c != "" {
		b.WriteString("re-replication: " + c + "\n")
	}
	return b.String()
}

// migrationSummary is the migration line of the full status.
func migrationSummary(m chkv.MigrationStatus) string {
	switch {
	case m.Active:
		return "migration: " + progressBar(m, barWidth)
	case m.SlotsTotal > 0:
		return "migration: done: " + doneFigures(m)
	}
	return "migration: none"
}

// copySummary describes the re-replication part of the movement (replica
// copies filled, counted apart from moves), "" when there is none:
//
//	12/40 copies  81k keys  9.1 MB  20k keys/s  ETA 4s
func copySummary(m chkv.MigrationStatus) string {
	if m.CopiesTotal <= 0 {
		return ""
	}
	left := "done"
	switch {
	case m.SlotsCopied < m.CopiesTotal && m.CopyETASec > 0:
		left = "ETA " + humanDuration(m.CopyETASec)
	case m.SlotsCopied < m.CopiesTotal:
		left = "ETA ?"
	}
	return fmt.Sprintf("%d/%d copies  %s keys  %s  %s keys/s  %s", m.SlotsCopied, m.CopiesTotal,
		humanCount(m.CopyKeys), humanBytes(m.CopyBytes), humanCount(int64(m.CopyKeysPerSec)), left)
}

// doneFigures describes a finished movement.
func doneFigures(m chkv.MigrationStatus) string {
	return fmt.Sprintf("%d slots, %s keys, %s moved in %s (%s keys/s)",
		m.SlotsDone, humanCount(m.KeysMoved), humanBytes(m.BytesMoved), humanDuration(m.ElapsedSec), humanCount(int64(m.KeysPerSec)))
}

// progressBar renders the movement as one line for a terminal:
//
//	[########............] 42% 1720/4096 slots  812k keys  93 MB  510k keys/s  ETA 3s
func progressBar(m chkv.MigrationStatus, width int) string {
	frac := fraction(m)
	fill := int(math.Floor(frac * float64(width)))
	bar := "[" + strings.Repeat("#", fill) + strings.Repeat(".", width-fill) + "]"
	return fmt.Sprintf("%s %3d%% %d/%d slots  %s keys  %s  %s keys/s  %s",
		bar, int(math.Floor(frac*100)), m.SlotsDone, m.SlotsTotal, humanCount(m.KeysMoved), humanBytes(m.BytesMoved),
		humanCount(int64(m.KeysPerSec)), eta(m))
}

// progressLine renders the status as one plain line, for output that is
// not a terminal (a log, a pipe): what moves, and where.
func progressLine(st clusterStatus) string {
	m := st.Migration
	var b strings.Builder
	fmt.Fprintf(&b, "table version %d: ", st.Version)
	switch {
	case m.Active:
		fmt.Fprintf(&b, "moving %d%%, %d/%d slots, %s keys, %s, %s keys/s, %s",
			int(math.Floor(fraction(m)*100)), m.SlotsDone, m.SlotsTotal, humanCount(m.KeysMoved), humanBytes(m.BytesMoved),
			humanCount(int64(m.KeysPerSec)), eta(m))
		var flows []string
		for _, n := range m.Nodes {
			if n.SlotsIn > 0 || n.SlotsOut > 0 {
				flows = append(flows, fmt.Sprintf("%s +%d/-%d", n.ID, n.SlotsIn, n.SlotsOut))
			}
		}
		if len(flows) > 0 {
			b.WriteString("; slots to go: " + strings.Join(flows, ", "))
		}
	case st.moving():
		b.WriteString("no data moving; members changing:")
		for _, mb := range st.Members {
			if mb.State == "joining" || mb.State == "leaving" {
				fmt.Fprintf(&b, " %s %s", mb.ID, mb.State)
			}
		}
	case m.SlotsTotal > 0:
		b.WriteString("done: " + doneFigures(m))
	default:
		b.WriteString("no data moving")
	}
	if c := copySummary(m); c != "" {
		b.WriteString("; re-replication: " + c)
	}
	return b.String()
}

// fraction is the share of the movement's slots already moved, 0 to 1.
func fraction(m chkv.MigrationStatus) float64 {
	switch {
	case m.SlotsTotal <= 0 && m.Active:
		return 0
	case m.SlotsTotal <= 0:
		return 1
	}
	return math.Min(1, math.Max(0, float64(m.SlotsDone)/float64(m.SlotsTotal)))
}

// eta renders the estimate of the time left.
func eta(m chkv.MigrationStatus) string {
	switch {
	case !m.Active:
		return "done"
	case m.ETASec <= 0:
		return "ETA ?"
	}
	return "ETA " + humanDuration(m.ETASec)
}

// humanDuration renders seconds as 0.4s, 3s, 1m05s or 2h03m.
func humanDuration(sec float64) string {
	switch {
	case sec < 0:
		sec = 0
	case sec < 0.95: // rounds to a tenth below 1.0
		return fmt.Sprintf("%.1fs", sec)
	}
	s := int64(math.Round(sec))
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
}

// humanCount renders a count with a k, M or G suffix: 950, 1.5k, 812k, 1.2M.
func humanCount(n int64) string {
	return humanUnits(n, []string{"", "k", "M", "G", "T"}, "")
}

// humanBytes renders a byte count in decimal units: 950 B, 1.5 kB, 93 MB.
func humanBytes(n int64) string {
	return humanUnits(n, []string{"B", "kB", "MB", "GB", "TB"}, " ")
}

// humanUnits renders n in steps of 1000: one decimal below 10, none above.
func humanUnits(n int64, units []string, sep string) string {
	v := float64(n)
	i := 0
	for math.Abs(v) >= 999.5 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d%s%s", n, sep, units[0])
	}
	if math.Abs(v) < 9.95 {
		return fmt.Sprintf("%.1f%s%s", v, sep, units[i])
	}
	return fmt.Sprintf("%.0f%s%s", v, sep, units[i])
}
