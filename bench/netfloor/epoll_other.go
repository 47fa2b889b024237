//go:build !linux

package main

import (
	"log"
	"net"
)

func serveEpoll(net.Listener) { log.Fatal("the epoll mode needs Linux") }
