package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress reports how far a loop has got. On a terminal it redraws one line
// with '\r':
//
//	train [#########...........]  450/1000  45.0%  90.0/s  ETA 6s  loss 0.1234
//
// Elsewhere (a file, a pipe, CI logs) it prints a plain line at most every
// p.every and a last one from finish:
//
//	train: 450/1000 (45.0%) 90.0/s ETA 6s loss 0.1234
//	train: 1000/1000 (100.0%) 90.9/s in 11s loss 0.1011
//
// A total ≤ 0 means unknown: no bar, percentage or ETA. After a write error
// it stops writing and keeps the error in p.err. It is not safe for
// concurrent use.
type progress struct {
	w     io.Writer
	label string
	total int

	tty     bool             // redraw one line with '\r'
	every   time.Duration    // minimum time between plain lines
	redraw  time.Duration    // minimum time between terminal redraws
	now     func() time.Time // the clock, injectable for tests
	barSize int              // width of the bar in characters

	start    time.Time
	done     int       // count of the last update
	last     time.Time // time of the last output
	printed  bool      // whether anything was printed since start
	lineLen  int       // length of the last terminal line, to blank leftovers
	finished bool
	err      error // first write error
}

// newProgress returns a reporter writing to w; if w is a terminal (os.File
// whose Stat().Mode()&os.ModeCharDevice != 0) it draws a single-line bar
// redrawn with '\r' (label, bar, n/total, percentage, rate, ETA, and an
// optional extra text like "loss 0.1234"); otherwise it prints a plain line
// at most every `every` (e.g. 5 s) and at the end.
func newProgress(w io.Writer, label string, total int) *progress {
	return newProgressClock(w, label, total, time.Now)
}

// newProgressClock is newProgress with the clock now.
func newProgressClock(w io.Writer, label string, total int, now func() time.Time) *progress {
	p := &progress{
		w:       w,
		label:   label,
		total:   total,
		tty:     isTerminal(w),
		every:   5 * time.Second,
		redraw:  100 * time.Millisecond,
		now:     now,
		barSize: 24,
	}
	p.start = now()
	p.last = p.start
	return p
}

// isTerminal reports whether w is an *os.File on a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// update records that done items of total are finished; extra (e.g.
// "loss 0.1234") is appended to the line. Output is rate-limited.
func (p *progress) update(done int, extra string) {
	if p.finished {
		return
	}
	p.done = done
	t := p.now()
	wait := p.every
	if p.tty {
		wait = p.redraw
		if !p.printed {
			wait = 0 // draw the bar at once
		}
	}
	if t.Sub(p.last) < wait {
		return
	}
	p.last, p.printed = t, true
	p.emit(done, extra, t, false)
}

// finish prints the final state, with the count of the last update, and
// ends the terminal line. Later calls to update or finish do nothing.
func (p *progress) finish(extra string) {
	if p.finished {
		return
	}
	p.finished = true
	p.emit(p.done, extra, p.now(), true)
	if p.tty {
		p.write("\n")
	}
}

// emit formats and writes one line.
func (p *progress) emit(done int, extra string, t time.Time, final bool) {
	elapsed := t.Sub(p.start)
	var rate float64
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	var b strings.Builder
	if p.tty {
		b.WriteString("\r")
		b.WriteString(p.label)
		if p.total > 0 {
			fill := min(max(done, 0)*p.barSize/p.total, p.barSize)
			fmt.Fprintf(&b, " [%s%s]", strings.Repeat("#", fill), strings.Repeat(".", p.barSize-fill))
		}
		b.WriteString("  ")
		b.WriteString(p.counts(done, "  "))
	} else {
		b.WriteString(p.label)
		b.WriteString(": ")
		b.WriteString(p.counts(done, " "))
	}
	sep := " "
	if p.tty {
		sep = "  "
	}
	if rate > 0 {
		fmt.Fprintf(&b, "%s%.1f/s", sep, rate)
	}
	switch {
	case final:
		fmt.Fprintf(&b, "%sin %s", sep, formatDuration(elapsed))
	case p.total > 0 && rate > 0 && done < p.total:
		eta := time.Duration(float64(p.total-done) / rate * float64(time.Second))
		fmt.Fprintf(&b, "%sETA %s", sep, formatDuration(eta))
	}
	if extra != "" {
		b.WriteString(sep)
		b.WriteString(extra)
	}
	line := b.String()
	if p.tty {
		// Blank what is left of a longer previous line.
		n := len(line)
		if n < p.lineLen {
			line += strings.Repeat(" ", p.lineLen-n)
		}
		p.lineLen = n
	} else {
		line += "\n"
	}
	p.write(line)
}

// counts formats "done/total (pct%)", or just done when total is unknown.
func (p *progress) counts(done int, sep string) string {
	if p.total <= 0 {
		return fmt.Sprint(done)
	}
	pct := 100 * float64(done) / float64(p.total)
	if p.tty {
		return fmt.Sprintf("%d/%d%s%.1f%%", done, p.total, sep, pct)
	}
	return fmt.Sprintf("%d/%d%s(%.1f%%)", done, p.total, sep, pct)
}

// write writes s unless an earlier write failed.
func (p *progress) write(s string) {
	if p.err != nil {
		return
	}
	_, p.err = io.WriteString(p.w, s)
}

// formatDuration rounds d to whole seconds (tenths below 10 s): "6s", "1m5s".
func formatDuration(d time.Duration) string {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
