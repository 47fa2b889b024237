// Links to a group of NameNodes: find the Raft leader through a comma-separated list, following followers' redirects.

package chkv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SplitNameNodes splits a comma-separated list of NameNode addresses,
// dropping empty entries and spaces.
func SplitNameNodes(list string) []string {
	var out []string
	for a := range strings.SplitSeq(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// isNotLeader reports whether err is a follower's redirect (msgNotLeader).
func isNotLeader(err error) bool {
	var re *RESPError
	return errors.As(err, &re) && strings.HasPrefix("ERR "+strings.TrimPrefix(re.Msg, "ERR "), msgNotLeader)
}

// notLeaderAddr returns the leader address a follower's redirect names, ""
// when it knows none.
func notLeaderAddr(err error) string {
	var re *RESPError
	if !errors.As(err, &re) {
		return ""
	}
	_, rest, ok := strings.Cut(re.Msg, "leader is ")
	if !ok {
		return ""
	}
	f := strings.Fields(rest)
	if len(f) != 2 {
		return ""
	}
	return f[1]
}

// nameNodeRetryPause is the wait before asking the NameNodes again when
// none is the leader (an election is under way).
const nameNodeRetryPause = 50 * time.Millisecond

// doLeader sends one command to the NameNode leader: the one a follower
// named last, else each entry of the list in turn. An unreachable NameNode
// is skipped; a follower's redirect is followed; when no leader is known
// yet it asks again after a pause, until the link's timeout. Each attempt
// gets the timeout divided among the list, so that one silent NameNode
// does not use it all.
func (l *peerLink) doLeader(ctx context.Context, args ...string) (any, error) {
	addrs := SplitNameNodes(l.addr)
	if len(addrs) == 0 {
		return nil, errors.New("chkv: no NameNode address")
	}
	if l.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.timeout)
		defer cancel()
	}
	each := l.timeout / time.Duration(len(addrs))
	var last error
	unreached := 0
	for ctx.Err() == nil {
		addr := l.leader
		if addr == "" {
			addr = addrs[l.next%len(addrs)]
		}
		r, err := l.doAt(ctx, addr, each, args...)
		if err == nil || (!isNotLeader(err) && isRESPError(err)) {
			return r, err
		}
		last = err
		if to := notLeaderAddr(err); to != "" && to != addr {
			l.leader = to
			unreached = 0
			continue
		}
		l.leader = ""
		l.next++
		l.close()
		if isNotLeader(err) {
			unreached = 0
		} else if unreached++; unreached >= len(addrs) {
			break // none answers: the caller retries later
		}
		if isNotLeader(err) && l.next%len(addrs) == 0 {
			t := time.NewTimer(nameNodeRetryPause)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
	}
	if last == nil {
		last = ctx.Err()
	}
	return nil, fmt.Errorf("chkv: no NameNode leader among %s: %w", l.addr, last)
}

// isRESPError reports whether err is an error reply.
func isRESPError(err error) bool {
	var re *RESPError
	return errors.As(err, &re)
}
