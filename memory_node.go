// The DataNode's side of the memory cap: the -OOM reply, the CONFIG parameters maxmemory, maxmemory-policy and maxmemory-samples, and the process's RSS.

package chkv

import (
	"bytes"
	"math"
	"os"
	"strconv"
)

// msgOOM is Redis's reply to a write refused over the memory cap.
const msgOOM = "OOM command not allowed when used memory > 'maxmemory'."

// memoryConfigParams returns the CONFIG parameters of the memory cap
// (config.go): maxmemory (a lower cap evicts at once, as Redis does),
// maxmemory-policy and maxmemory-samples.
func memoryConfigParams() []configParam {
	return []configParam{
		{name: "maxmemory", get: func(d *DataNode) string { return strconv.FormatInt(d.store.MaxMemory(), 10) },
			set: func(d *DataNode, v []byte) string {
				n, msg := parseConfigInt(v, true, 0, math.MaxInt64, true)
				if msg == "" {
					d.store.SetMaxMemory(n)
					if f := d.cfg.MaxMemoryChanged; f != nil {
						f(n)
					}
					d.store.FreeMemory()
				}
				return msg
			}},
		{name: "maxmemory-policy", get: func(d *DataNode) string { return d.store.MaxMemoryPolicy().String() },
			set: func(d *DataNode, v []byte) string {
				p, err := ParseMaxMemoryPolicy(string(v))
				if err != nil {
					return "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
				}
				d.store.SetMaxMemoryPolicy(p)
				return ""
			}},
		{name: "maxmemory-samples", get: func(d *DataNode) string { return strconv.Itoa(d.store.MaxMemorySamples()) },
			set: func(d *DataNode, v []byte) string {
				n, msg := parseConfigInt(v, false, 1, math.MaxInt32, false)
				if msg == "" {
					d.store.SetMaxMemorySamples(int(n))
				}
				return msg
			}},
	}
}

// processRSS returns the resident set size of this process in bytes, from
// /proc/self/statm; 0 where there is none.
func processRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
