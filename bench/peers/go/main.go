// main.go - hive's benchmark workloads written for Go.
//
// The same ten workloads as hive-bench (bench/savina.c and the process
// benchmarks), with the same sizes, written the way Go is written: a
// goroutine per actor, a channel per mailbox (buffered, mailboxSize, unless
// the workload is a strict request/response), sync.WaitGroup where a
// fork-join only needs to know that everyone finished. Standard library only;
// build offline with `GO111MODULE=off go build` (or the go.mod beside it).
//
//	hivebench-go WORKLOAD REPS        (GOMAXPROCS sets the worker count)
//
// One line per repetition on stdout:
//
//	WORKLOAD NS_PER_OP OPS ok|FAIL [key=value ...]
//
// NS_PER_OP is wall time / OPS, where OPS counts what hive's record counts
// (round trips, messages, hops, processes, meetings, pings).
package main

import (
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

const mailboxSize = 1024

type result struct {
	elapsed time.Duration
	ops     int64
	ok      bool
	extra   string
}

var workloads = map[string]func() result{
	"pingpong":       pingpong,
	"counting":       counting,
	"threadring":     threadring,
	"fjcreate":       fjcreate,
	"fjthrput":       fjthrput,
	"fib":            fib,
	"chameneos":      chameneos,
	"big":            big,
	"skynet":         skynet,
	"idle_processes": idleProcesses,
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: hivebench-go WORKLOAD REPS")
		os.Exit(2)
	}
	run, found := workloads[os.Args[1]]
	reps, err := strconv.Atoi(os.Args[2])
	if !found || err != nil || reps < 1 {
		fmt.Fprintf(os.Stderr, "hivebench-go: unknown workload %q or bad REPS %q\n", os.Args[1], os.Args[2])
		os.Exit(2)
	}
	for i := 0; i < reps; i++ {
		runtime.GC()
		r := run()
		status := "ok"
		if !r.ok {
			status = "FAIL"
		}
		fmt.Printf("%s %.3f %d %s%s\n", os.Args[1], float64(r.elapsed.Nanoseconds())/float64(r.ops), r.ops, status, r.extra)
	}
}

// ---- pingpong: 1,000,000 round trips between two goroutines -------------
func pingpong() result {
	const n = 1000000
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	start := time.Now()
	sum := 0
	for i := 0; i < n; i++ {
		ping <- i
		sum += <-pong - i
	}
	el := time.Since(start)
	close(ping)
	return result{el, n, sum == 0, ""}
}

// ---- counting: 10,000,000 messages (each carrying its index) to one goroutine
func counting() result {
	const n = 10000000
	type msg struct {
		value int
		reply chan [2]int // non-nil: the final "get"
	}
	start := time.Now()
	inbox := make(chan msg, mailboxSize)
	go func() {
		count, sum := 0, 0
		for m := range inbox {
			if m.reply != nil {
				m.reply <- [2]int{count, sum}
				return
			}
			count++
			sum += m.value
		}
	}()
	reply := make(chan [2]int)
	go func() {
		for i := 0; i < n; i++ {
			inbox <- msg{value: i}
		}
		inbox <- msg{reply: reply}
	}()
	r := <-reply
	return result{time.Since(start), n, r[0] == n && r[1] == n*(n-1)/2, ""}
}

// ---- threadring: 503 goroutines in a ring, 10,000,000 hops ----------------
func threadring() result {
	const procs, hops = 503, 10000000
	start := time.Now()
	ring := make([]chan int, procs)
	for i := range ring {
		ring[i] = make(chan int, 1)
	}
	done := make(chan int)
	for i := 0; i < procs; i++ {
		go func(id int, in, next chan int) {
			for k := range in {
				if k == 0 {
					done <- id
					return
				}
				next <- k - 1
			}
		}(i, ring[i], ring[(i+1)%procs])
	}
	ring[0] <- hops
	last := <-done
	el := time.Since(start)
	for i, c := range ring { // the others are waiting on their channel
		if i != last {
			close(c)
		}
	}
	return result{el, hops, last == hops%procs, ""}
}

// ---- fjcreate: start + finish 1,000,000 goroutines -------------------------
func fjcreate() result {
	const n = 1000000
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	return result{time.Since(start), n, true, ""}
}

// ---- fjthrput: 60 goroutines x 100,000 messages --------------------------
func fjthrput() result {
	const actors, msgs = 60, 100000
	start := time.Now()
	done := make(chan int, actors)
	inboxes := make([]chan struct{}, actors)
	for a := range inboxes {
		inboxes[a] = make(chan struct{}, mailboxSize)
		go func(in chan struct{}) {
			count := 0
			for range in {
				count++
				if count == msgs {
					break
				}
			}
			done <- count
		}(inboxes[a])
	}
	go func() {
		for i := 0; i < msgs; i++ {
			for _, in := range inboxes {
				in <- struct{}{}
			}
		}
	}()
	total := 0
	for a := 0; a < actors; a++ {
		total += <-done
	}
	return result{time.Since(start), actors * msgs, total == actors*msgs, ""}
}

// ---- fib: a goroutine per call, fib(27) = 196418 -------------------------
func fibCall(n int, parent chan<- int) {
	if n <= 2 {
		parent <- 1
		return
	}
	answers := make(chan int, 2)
	go fibCall(n-1, answers)
	go fibCall(n-2, answers)
	parent <- <-answers + <-answers
}

func fib() result {
	start := time.Now()
	answer := make(chan int, 1)
	go fibCall(27, answer)
	r := <-answer
	return result{time.Since(start), 2*196418 - 1, r == 196418, ""}
}

// ---- chameneos: 100 creatures, 200,000 meetings via a mall ---------------
type meet struct {
	colour int
	from   chan creatureMsg
}

type creatureMsg struct {
	kind   int // meetMsg, changeMsg, exitMsg
	colour int
	from   chan creatureMsg
}

const (
	meetMsg = iota
	changeMsg
	exitMsg
)

type mallMsg struct {
	count int // >= 0: a creature's final count; -1: a meet
	meet  meet
}

func complement(a, b int) int {
	if a == b {
		return a
	}
	return 3 - a - b
}

func creature(mall chan<- mallMsg, colour int) {
	in := make(chan creatureMsg, mailboxSize)
	meetings := 0
	mall <- mallMsg{-1, meet{colour, in}}
	for m := range in {
		switch m.kind {
		case exitMsg:
			mall <- mallMsg{meetings, meet{}}
			return
		case meetMsg:
			colour = complement(colour, m.colour)
			m.from <- creatureMsg{changeMsg, colour, in}
		case changeMsg:
			colour = complement(colour, m.colour)
		}
		meetings++
		mall <- mallMsg{-1, meet{colour, in}}
	}
}

func chameneos() result {
	const creatures, meetings = 100, 200000
	start := time.Now()
	mall := make(chan mallMsg, mailboxSize)
	for i := 0; i < creatures; i++ {
		go creature(mall, i%3)
	}
	left, done, faded, sum := meetings, 0, 0, 0
	var waiting *meet
	for faded < creatures {
		m := <-mall
		switch {
		case m.count >= 0:
			faded++
			sum += m.count
		case left == 0:
			m.meet.from <- creatureMsg{kind: exitMsg}
		case waiting == nil:
			w := m.meet
			waiting = &w
		default:
			waiting.from <- creatureMsg{meetMsg, m.meet.colour, m.meet.from}
			waiting = nil
			left--
			done++
		}
	}
	return result{time.Since(start), meetings, done == meetings && sum == 2*meetings, ""}
}

// ---- big: 120 goroutines x 20,000 pings to random peers ------------------
type bigMsg struct {
	kind int // bigPing, bigPong, bigExit
	from int
}

const (
	bigPing = iota
	bigPong
	bigExit
)

type bigStats struct{ sent, pongs, pinged int }

func big() result {
	const n, m = 120, 20000
	start := time.Now()
	inboxes := make([]chan bigMsg, n)
	for i := range inboxes {
		inboxes[i] = make(chan bigMsg, mailboxSize)
	}
	done := make(chan struct{}, n)
	stats := make(chan bigStats, n)
	for i := 0; i < n; i++ {
		go func(id int) {
			rng := rand.New(rand.NewSource(int64(id) + 1))
			in := inboxes[id]
			var st bigStats
			sendPing := func() {
				if st.sent == m {
					done <- struct{}{}
					return
				}
				st.sent++
				inboxes[rng.Intn(n)] <- bigMsg{bigPing, id}
			}
			sendPing()
			for msg := range in {
				switch msg.kind {
				case bigPing:
					st.pinged++
					inboxes[msg.from] <- bigMsg{bigPong, id}
				case bigPong:
					st.pongs++
					sendPing()
				case bigExit:
					stats <- st
					return
				}
			}
		}(i)
	}
	for i := 0; i < n; i++ {
		<-done
	}
	for _, in := range inboxes {
		in <- bigMsg{kind: bigExit}
	}
	var sum bigStats
	for i := 0; i < n; i++ {
		st := <-stats
		sum.sent += st.sent
		sum.pongs += st.pongs
		sum.pinged += st.pinged
	}
	ok := sum.sent == n*m && sum.pongs == n*m && sum.pinged == n*m
	return result{time.Since(start), n * m, ok, ""}
}

// ---- skynet: 1,111,111 goroutines, sum 499999500000 ----------------------
func skynetCall(out chan<- int64, num, size, div int64) {
	if size == 1 {
		out <- num
		return
	}
	sub := size / div
	in := make(chan int64, div)
	for i := int64(0); i < div; i++ {
		go skynetCall(in, num+i*sub, sub, div)
	}
	var sum int64
	for i := int64(0); i < div; i++ {
		sum += <-in
	}
	out <- sum
}

func skynet() result {
	start := time.Now()
	out := make(chan int64, 1)
	go skynetCall(out, 0, 1000000, 10)
	sum := <-out
	return result{time.Since(start), 1111111, sum == 499999500000, ""}
}

// ---- idle_processes: 1,000,000 goroutines blocked on a receive ------------
// As hive's: timed = start them, wait until every one waits on its channel,
// then send each a message and wait until all have finished; ns per
// goroutine. Memory: the resident set growth per goroutine once all wait
// (goroutine and its channel; the slice of channels is touched before).
func idleProcesses() result {
	const n = 1000000
	inboxes := make([]chan struct{}, n)
	for i := range inboxes {
		inboxes[i] = nil // touch the slice before the baseline
	}
	debug.FreeOSMemory()
	rss0 := rssBytes()
	start := time.Now()
	var ready, exited sync.WaitGroup
	ready.Add(n)
	exited.Add(n)
	for i := range inboxes {
		inboxes[i] = make(chan struct{})
		go func(in chan struct{}) {
			ready.Done()
			<-in
			exited.Done()
		}(inboxes[i])
	}
	ready.Wait()
	el := time.Since(start)
	rss1 := rssBytes()
	alive := runtime.NumGoroutine()
	start = time.Now()
	for _, in := range inboxes {
		in <- struct{}{}
	}
	exited.Wait()
	el += time.Since(start)
	return result{el, n, alive > n, fmt.Sprintf(" bytes_per_process=%d", (rss1-rss0)/n)}
}

func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
