// http/main.go - the Go peer of examples/http_server.c for the `http`
// benchmark (bench/compare.sh): idiomatic net/http, one handler, the same
// response body ("Hello, World!\n", text/plain), keep-alive by default.
//
//	hivebench-go-http [-addr 127.0.0.1:0]
//
// Prints "go_http: listening on HOST:PORT" once it accepts connections and
// serves until killed. GOMAXPROCS sets the thread count, as for hive's
// HIVE_WORKERS.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello, World!\n")
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second, // as http_server's --timeout-ms
		IdleTimeout:       10 * time.Second,
		MaxHeaderBytes:    8192,
	}
	fmt.Printf("go_http: listening on %s\n", ln.Addr())
	os.Stdout.Sync()
	log.Fatal(srv.Serve(ln))
}
