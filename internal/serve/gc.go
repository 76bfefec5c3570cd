package serve

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
)

// gcHeadroom is how far the heap may grow past what is live before the
// collector runs, for a server whose live heap is large.
const gcHeadroom = 64 << 20

// tuneGC sets the collector's pace for a server whose live heap is mostly
// its model's weights. Go's default (GOGC=100) lets the heap grow by as
// much again as is live before collecting: with a 300 MB embedding table
// live, a server under load then holds twice the weights, mostly request
// garbage. Here the growth is gcHeadroom (as a GOGC percentage of the live
// heap, 10 to 100): the weights are float slices without pointers, so a
// collection marks them almost for free and collecting more often costs
// little. A GOGC set in the environment stands.
func tuneGC(log *slog.Logger) {
	if os.Getenv("GOGC") != "" {
		return
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	pct := gcPercent(ms.HeapAlloc)
	debug.SetGCPercent(pct)
	log.Info("garbage collector paced to the model", "gogc", pct, "live_heap_mib", ms.HeapAlloc>>20)
}

// gcPercent is the GOGC that lets a live heap of live bytes grow by
// gcHeadroom, within 10 to 100.
func gcPercent(live uint64) int {
	return int(min(100, max(10, 100*gcHeadroom/max(1, live))))
}
