// Persistence commands: SAVE, BGSAVE, BGREWRITEAOF and LASTSAVE, and the Persistence section of INFO.

package chkv

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// msgNoDataDir answers a persistence command of a node without a data directory.
const msgNoDataDir = "ERR chkv: persistence is off: start the server with --data-dir to save"

// Replies of the persistence commands, as redis-server 7.0 writes them.
const (
	msgBGSaveStarted     = "Background saving started"
	msgBGSaveScheduled   = "Background saving scheduled"
	msgBGSaveRunning     = "ERR Background save already in progress"
	msgBGRewriteStarted  = "Background append only file rewriting started"
	msgBGRewriteRunning  = "ERR Background append only file rewriting already in progress"
	msgSaveFailed        = "ERR chkv: save failed: "
	persistCommandsFlags = flagAdmin | flagStale
)

// persistCommands returns the persistence commands of the command table.
func persistCommands() []*command {
	return []*command{
		{"save", 1, persistCommandsFlags | flagLong, 0, 0, 0, cmdSave},
		{"bgsave", -1, persistCommandsFlags, 0, 0, 0, cmdBGSave},
		{"bgrewriteaof", 1, persistCommandsFlags, 0, 0, 0, cmdBGRewriteAOF},
		{"lastsave", 1, flagFast | flagStale, 0, 0, 0, cmdLastSave},
	}
}

// cmdSave writes a snapshot and starts the log afresh before it answers.
func cmdSave(c *conn, args [][]byte) {
	p := c.d.aof
	if p == nil {
		c.w.errorText(msgNoDataDir)
		return
	}
	switch err := p.rewriteNow(); {
	case errors.Is(err, errRewriteRunning):
		c.w.errorText(msgBGSaveRunning)
	case err != nil:
		c.w.errorText(msgSaveFailed + err.Error())
	default:
		c.w.ok()
	}
}

// cmdBGSave starts a snapshot in the background (BGSAVE [SCHEDULE]).
func cmdBGSave(c *conn, args [][]byte) {
	schedule := len(args) == 2 && eqFold(args[1], "schedule")
	if len(args) > 2 || len(args) == 2 && !schedule {
		c.w.errorText(msgSyntax)
		return
	}
	p := c.d.aof
	switch {
	case p == nil:
		c.w.errorText(msgNoDataDir)
	case p.startRewrite():
		c.w.simple(msgBGSaveStarted)
	case schedule:
		c.w.simple(msgBGSaveScheduled) // the running one covers it
	default:
		c.w.errorText(msgBGSaveRunning)
	}
}

// cmdBGRewriteAOF compacts the log in the background.
func cmdBGRewriteAOF(c *conn, args [][]byte) {
	p := c.d.aof
	switch {
	case p == nil:
		c.w.errorText(msgNoDataDir)
	case p.startRewrite():
		c.w.simple(msgBGRewriteStarted)
	default:
		c.w.errorText(msgBGRewriteRunning)
	}
}

// cmdLastSave answers the unix time of the last complete snapshot (of the
// start, for a node without one).
func cmdLastSave(c *conn, args [][]byte) {
	if p := c.d.aof; p != nil {
		c.w.int(p.stats.lastSave.Load())
		return
	}
	c.w.int(c.d.started.Unix())
}

// persistenceInfo returns the fields of INFO's Persistence section, named
// as Redis names them where Redis has them.
func (d *DataNode) persistenceInfo() []any {
	p := d.aof
	if p == nil {
		return []any{
			"loading", 0,
			"rdb_changes_since_last_save", 0,
			"rdb_bgsave_in_progress", 0,
			"rdb_last_save_time", d.started.Unix(),
			"rdb_last_bgsave_status", "ok",
			"aof_enabled", 0,
			"aof_rewrite_in_progress", 0,
			"aof_last_write_status", "ok",
		}
	}
	st := &p.stats
	running := 0
	current := int64(-1)
	if p.rewriting.Load() {
		running = 1
		if t := st.rewriteStarted.Load(); t > 0 {
			current = (d.cfg.Now().UnixMilli() - t) / 1000
		}
	}
	status := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "err"
	}
	lastMs := st.lastRewriteMs.Load()
	lastSec := int64(-1)
	if lastMs >= 0 {
		lastSec = lastMs / 1000
	}
	p.mu.Lock()
	buffered := len(p.cur.buf)
	if p.old != nil {
		buffered += len(p.old.buf)
	}
	p.mu.Unlock()
	return []any{
		"loading", 0,
		"rdb_changes_since_last_save", st.changesSince.Load(),
		"rdb_bgsave_in_progress", running,
		"rdb_last_save_time", st.lastSave.Load(),
		"rdb_last_bgsave_status", status(st.lastRewriteOK.Load()),
		"rdb_last_bgsave_time_sec", lastSec,
		"rdb_current_bgsave_time_sec", current,
		"aof_enabled", 1,
		"aof_rewrite_in_progress", running,
		"aof_rewrite_scheduled", 0,
		"aof_last_rewrite_time_sec", lastSec,
		"aof_current_rewrite_time_sec", current,
		"aof_last_bgrewrite_status", status(st.lastRewriteOK.Load()),
		"aof_rewrites", st.rewrites.Load(),
		"aof_last_write_status", status(p.writeErr.Load() == nil),
		"aof_current_size", st.snapSize.Load() + st.logSize.Load(),
		"aof_base_size", st.baseSize.Load(),
		"aof_buffer_length", buffered,
		"aof_fsync", string(p.fsync()),
		"aof_write_errors", st.writeErrors.Load(),
		"aof_loaded_keys", st.loadedKeys.Load(),
		"aof_load_time_ms", st.loadMs.Load(),
		"aof_load_truncated_bytes", st.truncatedOnLoad.Load(),
	}
}

// persistParams returns the persistence parameters of CONFIG GET and SET:
// appendfsync and the compaction thresholds change while the node runs;
// appendonly, dir and aof-load-truncated are fixed at start (--data-dir).
func persistParams() []configParam {
	yesNo := map[bool]string{false: "no", true: "yes"}
	return []configParam{
		{name: "appendonly", get: func(d *DataNode) string { return yesNo[d.aof != nil] }},
		{name: "dir", get: func(d *DataNode) string { return d.cfg.DataDir }},
		{name: "aof-load-truncated", get: func(d *DataNode) string { return yesNo[d.cfg.AOFLoadTruncated] }},
		{name: "appendfsync", get: func(d *DataNode) string {
			if d.aof != nil {
				return string(d.aof.fsync())
			}
			return string(d.cfg.AppendFsync)
		}, set: func(d *DataNode, v []byte) string {
			f := AppendFsync(strings.ToLower(string(v)))
			if f != FsyncAlways && f != FsyncEverySec && f != FsyncNo {
				return "argument(s) must be one of the following: always, everysec, no"
			}
			if d.aof != nil {
				d.aof.policy.Store(&f)
			}
			return ""
		}},
		{name: "auto-aof-rewrite-percentage", get: func(d *DataNode) string {
			if d.aof != nil {
				return strconv.FormatInt(max(d.aof.rewritePct.Load(), 0), 10)
			}
			return strconv.Itoa(max(d.cfg.AutoAOFRewritePercentage, 0))
		}, set: func(d *DataNode, v []byte) string {
			n, msg := parseConfigInt(v, false, 0, math.MaxInt32, false)
			if msg == "" && d.aof != nil {
				d.aof.rewritePct.Store(n)
			}
			return msg
		}},
		{name: "auto-aof-rewrite-min-size", get: func(d *DataNode) string {
			if d.aof != nil {
				return strconv.FormatInt(d.aof.rewriteMin.Load(), 10)
			}
			return strconv.FormatInt(d.cfg.AutoAOFRewriteMinSize, 10)
		}, set: func(d *DataNode, v []byte) string {
			n, msg := parseConfigInt(v, true, 0, math.MaxInt64, false)
			if msg == "" && d.aof != nil {
				d.aof.rewriteMin.Store(n)
			}
			return msg
		}},
	}
}
