// replyWriter appends RESP2 replies to a buffer that the connection flushes once per pipelined batch.

package chkv

import (
	"io"
	"strconv"
	"strings"
)

// replyWriter builds RESP2 replies in memory. The server flushes it when no
// further request is buffered, so a pipeline of N requests costs one write.
type replyWriter struct {
	buf []byte
	w   io.Writer
	err error // first write error; later flushes are no-ops
	// errs counts the error replies written and lastErr is the first word
	// of the last one, for the metrics (metrics.go).
	errs    int
	lastErr string
}

func (w *replyWriter) simple(s string) { w.buf = append(append(append(w.buf, '+'), s...), '\r', '\n') }

func (w *replyWriter) ok() { w.buf = append(w.buf, "+OK\r\n"...) }

// errorText writes an error reply; msg is the text after '-', e.g. "ERR syntax error".
func (w *replyWriter) errorText(msg string) {
	w.errs++
	w.lastErr = errorPrefix(msg)
	// Redis trims CR and LF off the ends of a formatted error (an argument
	// quoted last) and turns the ones inside into spaces.
	msg = strings.TrimRight(msg, "\r\n")
	w.buf = append(w.buf, '-')
	for i := 0; i < len(msg); i++ { // an error reply is one line
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		w.buf = append(w.buf, c)
	}
	w.buf = append(w.buf, '\r', '\n')
}

func (w *replyWriter) int(n int64) {
	w.buf = append(w.buf, ':')
	w.buf = strconv.AppendInt(w.buf, n, 10)
	w.buf = append(w.buf, '\r', '\n')
}

func (w *replyWriter) bulk(b []byte) {
	w.buf = append(w.buf, '$')
	w.buf = strconv.AppendInt(w.buf, int64(len(b)), 10)
	w.buf = append(w.buf, '\r', '\n')
	w.buf = append(w.buf, b...)
	w.buf = append(w.buf, '\r', '\n')
}

func (w *replyWriter) bulkString(s string) {
	w.buf = append(w.buf, '$')
	w.buf = strconv.AppendInt(w.buf, int64(len(s)), 10)
	w.buf = append(w.buf, '\r', '\n')
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, '\r', '\n')
}

// null writes the RESP2 null bulk string ($-1).
func (w *replyWriter) null() { w.buf = append(w.buf, "$-1\r\n"...) }

// nullArray writes the RESP2 null array (*-1).
func (w *replyWriter) nullArray() { w.buf = append(w.buf, "*-1\r\n"...) }

func (w *replyWriter) array(n int) {
	w.buf = append(w.buf, '*')
	w.buf = strconv.AppendInt(w.buf, int64(n), 10)
	w.buf = append(w.buf, '\r', '\n')
}

// bulkStrings writes an array of bulk strings.
func (w *replyWriter) bulkStrings(ss []string) {
	w.array(len(ss))
	for _, s := range ss {
		w.bulkString(s)
	}
}

// flush writes the buffered replies out.
func (w *replyWriter) flush() error {
	if len(w.buf) == 0 || w.err != nil {
		w.buf = w.buf[:0]
		return w.err
	}
	_, w.err = w.w.Write(w.buf)
	if cap(w.buf) > 1<<20 { // do not keep a huge reply buffer per idle connection
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
	return w.err
}
