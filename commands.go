// The command table: every command a DataNode serves, with its arity, flags and key positions.

package chkv

// cmdFlags describe a command for dispatch and for COMMAND INFO.
type cmdFlags uint16

const (
	flagWrite     cmdFlags = 1 << iota // modifies data
	flagReadonly                       // only reads data
	flagFast                           // O(1) or O(log N)
	flagNoAuth                         // allowed before AUTH
	flagBlocking                       // may block the client
	flagAdmin                          // administrative
	flagLoading                        // allowed while loading
	flagStale                          // allowed on stale data
	flagDenyOOM                        // refused when memory is full
	flagTrackName                      // recorded as the client's last command (CLIENT LIST)
	flagLong                           // runs long or waits on other nodes: never on an event loop
	flagNumKeys                        // keys follow a numkeys argument: see movableKeys
	flagInternal                       // between the nodes of a cluster: needs the cluster secret (auth.go)
)

// command is one entry of the command table.
type command struct {
	name     string
	arity    int // > 0: exactly; < 0: at least -arity arguments (the name included)
	flags    cmdFlags
	firstKey int // position of the first key, 0 for none
	lastKey  int // position of the last key, -1 for the last argument
	step     int // distance between keys
	run      func(c *conn, args [][]byte)
}

// keyBounds returns the positions of the first and last key in args; false
// when the command names no key.
func (cmd *command) keyBounds(args [][]byte) (first, last int, ok bool) {
	if cmd.firstKey <= 0 || cmd.firstKey >= len(args) {
		return 0, 0, false
	}
	last = cmd.lastKey
	if last < 0 {
		last += len(args)
	}
	return cmd.firstKey, min(last, len(args)-1), true
}

// Error texts shared by many commands, as redis-server 7.0 writes them.
const (
	msgSyntax       = "ERR syntax error"
	msgWrongType    = "WRONGTYPE Operation against a key holding the wrong kind of value"
	msgNotInteger   = "ERR value is not an integer or out of range"
	msgNotFloat     = "ERR value is not a valid float"
	msgOverflow     = "ERR increment or decrement would overflow"
	msgNoSuchKey    = "ERR no such key"
	msgOutOfRange   = "ERR index out of range"
	msgTooLarge     = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	msgNegTimeout   = "ERR timeout is negative"
	msgBadTimeout   = "ERR timeout is not a float or out of range"
	msgMustPositive = "ERR value is out of range, must be positive"
	msgNaN          = "ERR increment would produce NaN or Infinity"
	// msgShuttingDown answers a long command cut short by the node closing.
	msgShuttingDown = "ERR chkv: the server is shutting down"
)

// commandTable builds the table of commands a DataNode serves.
func commandTable() map[string]*command {
	const (
		w   = flagWrite | flagTrackName
		r   = flagReadonly | flagTrackName
		wf  = w | flagFast
		rf  = r | flagFast
		wfo = wf | flagDenyOOM
		wo  = w | flagDenyOOM
	)
	cmds := []*command{
		// connection and server
		{"ping", -1, flagFast | flagStale, 0, 0, 0, cmdPing},
		{"echo", 2, flagFast, 0, 0, 0, cmdEcho},
		{"quit", -1, flagNoAuth | flagFast | flagStale, 0, 0, 0, cmdQuit},
		{"select", 2, flagFast | flagLoading | flagStale, 0, 0, 0, cmdSelect},
		{"auth", -2, flagNoAuth | flagFast | flagStale, 0, 0, 0, cmdAuth},
		{"hello", -1, flagNoAuth | flagFast | flagStale, 0, 0, 0, cmdHello},
		{"client", -2, flagStale, 0, 0, 0, cmdClient},
		{"command", -1, flagStale, 0, 0, 0, cmdCommand},
		{"info", -1, flagStale, 0, 0, 0, cmdInfo},
		{"dbsize", 1, rf, 0, 0, 0, cmdDBSize},
		{"flushdb", -1, w, 0, 0, 0, cmdFlush},
		{"flushall", -1, w, 0, 0, 0, cmdFlush},
		{"time", 1, flagFast | flagStale, 0, 0, 0, cmdTime},
		{"wait", 3, flagLong, 0, 0, 0, cmdWait},
		{"config", -2, flagAdmin | flagStale, 0, 0, 0, cmdConfig},
		// keys
		{"del", -2, w, 1, -1, 1, cmdDel},
		{"unlink", -2, wf, 1, -1, 1, cmdDel},
		{"exists", -2, rf, 1, -1, 1, cmdExists},
		{"type", 2, rf, 1, 1, 1, cmdType},
		{"expire", -3, wf, 1, 1, 1, cmdExpire},
		{"pexpire", -3, wf, 1, 1, 1, cmdExpire},
		{"expireat", -3, wf, 1, 1, 1, cmdExpire},
		{"pexpireat", -3, wf, 1, 1, 1, cmdExpire},
		{"ttl", 2, rf, 1, 1, 1, cmdTTL},
		{"pttl", 2, rf, 1, 1, 1, cmdTTL},
		{"persist", 2, wf, 1, 1, 1, cmdPersist},
		{"scan", -2, r, 0, 0, 0, cmdScan},
		{"keys", 2, r, 0, 0, 0, cmdKeys},
		{"rename", 3, w, 1, 2, 1, cmdRename},
		{"renamenx", 3, wf, 1, 2, 1, cmdRename},
		// strings and counters
		{"get", 2, rf, 1, 1, 1, cmdGet},
		{"set", -3, wo, 1, 1, 1, cmdSet},
		{"setnx", 3, wfo, 1, 1, 1, cmdSetNX},
		{"setex", 4, wo, 1, 1, 1, cmdSetEX},
		{"psetex", 4, wo, 1, 1, 1, cmdSetEX},
		{"getset", 3, wfo, 1, 1, 1, cmdGetSet},
		{"getdel", 2, wf, 1, 1, 1, cmdGetDel},
		{"getex", -2, wf, 1, 1, 1, cmdGetEx},
		{"mget", -2, rf, 1, -1, 1, cmdMGet},
		{"mset", -3, wo, 1, -1, 2, cmdMSet},
		{"msetnx", -3, wo, 1, -1, 2, cmdMSet},
		{"append", 3, wfo, 1, 1, 1, cmdAppend},
		{"strlen", 2, rf, 1, 1, 1, cmdStrlen},
		{"getrange", 4, r, 1, 1, 1, cmdGetRange},
		{"substr", 4, r, 1, 1, 1, cmdGetRange},
		{"setrange", 4, wo, 1, 1, 1, cmdSetRange},
		{"incr", 2, wfo, 1, 1, 1, cmdIncr},
		{"decr", 2, wfo, 1, 1, 1, cmdIncr},
		{"incrby", 3, wfo, 1, 1, 1, cmdIncr},
		{"decrby", 3, wfo, 1, 1, 1, cmdIncr},
		{"incrbyfloat", 3, wfo, 1, 1, 1, cmdIncrByFloat},
		// versions (Tair)
		{"chkv.getv", 2, rf, 1, 1, 1, cmdGetV},
		{"chkv.setv", -4, wfo, 1, 1, 1, cmdSetV},
		{"chkv.version", 2, rf, 1, 1, 1, cmdVersion},
	}
	cmds = append(cmds, listCommands()...)
	cmds = append(cmds, hashCommands()...)
	cmds = append(cmds, setCommandTable()...)
	cmds = append(cmds, bitmapCommands()...)
	cmds = append(cmds, zsetCommands()...)
	cmds = append(cmds, keyspaceCommands()...)
	cmds = append(cmds, persistCommands()...)
	m := make(map[string]*command, len(cmds))
	for _, c := range cmds {
		m[c.name] = c
	}
	return m
}

// firstKeyOf returns the first key of a call of cmd, nil for none.
func (cmd *command) firstKeyOf(args [][]byte) []byte {
	if cmd.flags&flagNumKeys != 0 {
		if keys := cmd.movableKeys(args); len(keys) > 0 {
			return keys[0]
		}
		return nil
	}
	if cmd.firstKey > 0 && cmd.firstKey < len(args) {
		return args[cmd.firstKey]
	}
	return nil
}

// movableKeys returns the keys of a command with flagNumKeys: the numkeys
// keys after its numkeys argument, and the destination first for the
// *STORE commands. It returns none when the count is not valid: the
// command then answers the error itself.
func (cmd *command) movableKeys(args [][]byte) [][]byte {
	at, dest := 1, false
	switch cmd.name {
	case "zunionstore", "zinterstore", "zdiffstore":
		at, dest = 2, true
	case "bzmpop":
		at = 2
	}
	if at >= len(args) {
		return nil
	}
	n, ok := parseInt(args[at])
	if !ok || n < 1 || n > int64(len(args)-at-1) {
		return nil
	}
	keys := args[at+1 : at+1+int(n)]
	if dest {
		return append([][]byte{args[1]}, keys...)
	}
	return keys
}

// keys returns the key arguments of a call of cmd (none for keyless commands).
func (cmd *command) keys(args [][]byte) [][]byte {
	first, last, ok := cmd.keyBounds(args)
	if !ok {
		return nil
	}
	var keys [][]byte
	for i := first; i <= last; i += cmd.step {
		keys = append(keys, args[i])
	}
	return keys
}
