//go:build mpi

package mpi

/*
#cgo pkg-config: ompi-c
#include <stdlib.h>
#include <mpi.h>

static int cm_init(int *provided) {
	int flag = 0;
	MPI_Initialized(&flag);
	if (flag) {
		return MPI_Query_thread(provided);
	}
	int err = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, provided);
	if (err != MPI_SUCCESS) return err;
	return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}
static int cm_rank(int *r) { return MPI_Comm_rank(MPI_COMM_WORLD, r); }
static int cm_size(int *s) { return MPI_Comm_size(MPI_COMM_WORLD, s); }
static int cm_finalize(void) { return MPI_Finalize(); }
static int cm_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }

static int cm_iallreduce_f32(float *buf, int n, MPI_Request *req) {
	return MPI_Iallreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, req);
}
static int cm_iallreduce_f64(double *buf, int n, MPI_Request *req) {
	return MPI_Iallreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, req);
}
static int cm_iallgather_f32(float *send, int n, float *recv, MPI_Request *req) {
	return MPI_Iallgather(send, n, MPI_FLOAT, recv, n, MPI_FLOAT, MPI_COMM_WORLD, req);
}
static int cm_iallgather_f64(double *send, int n, double *recv, MPI_Request *req) {
	return MPI_Iallgather(send, n, MPI_DOUBLE, recv, n, MPI_DOUBLE, MPI_COMM_WORLD, req);
}
static int cm_iallgather_i64(long long *send, int n, long long *recv, MPI_Request *req) {
	return MPI_Iallgather(send, n, MPI_LONG_LONG, recv, n, MPI_LONG_LONG, MPI_COMM_WORLD, req);
}
static int cm_iallgatherv_f32(float *send, int n, float *recv, int *counts, int *displs, MPI_Request *req) {
	return MPI_Iallgatherv(send, n, MPI_FLOAT, recv, counts, displs, MPI_FLOAT, MPI_COMM_WORLD, req);
}
static int cm_iallgather_int(int *send, int *recv, MPI_Request *req) {
	return MPI_Iallgather(send, 1, MPI_INT, recv, 1, MPI_INT, MPI_COMM_WORLD, req);
}
static int cm_ibcast_f32(float *buf, int n, int root, MPI_Request *req) {
	return MPI_Ibcast(buf, n, MPI_FLOAT, root, MPI_COMM_WORLD, req);
}
static int cm_ibcast_f64(double *buf, int n, int root, MPI_Request *req) {
	return MPI_Ibcast(buf, n, MPI_DOUBLE, root, MPI_COMM_WORLD, req);
}
static int cm_test(MPI_Request *req, int *done) { return MPI_Test(req, done, MPI_STATUS_IGNORE); }
static int cm_error_string(int code, char *buf) {
	int n = 0;
	MPI_Error_string(code, buf, &n);
	return n;
}
static int cm_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
*/
import "C"

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// DefaultTimeout is how long a collective waits for the other ranks before
// it returns an error.
const DefaultTimeout = 2 * time.Minute

// Comm is MPI_COMM_WORLD of an initialised MPI job. Its methods may be
// called from any goroutine; they run one at a time.
type Comm struct {
	mu         sync.Mutex
	rank, size int
	finalized  bool
	// Timeout bounds each collective (DefaultTimeout from Init); ≤ 0 waits
	// forever.
	Timeout time.Duration
}

var (
	initMu sync.Mutex
	world  *Comm
)

// mpiError names the MPI call and carries MPI's error string.
func mpiError(call string, code C.int) error {
	if code == C.MPI_SUCCESS {
		return nil
	}
	buf := (*C.char)(C.malloc(C.MPI_MAX_ERROR_STRING + 1))
	defer C.free(unsafe.Pointer(buf))
	n := C.cm_error_string(code, buf)
	return fmt.Errorf("mpi: %s: %s (error code %d)", call, C.GoStringN(buf, n), int(code))
}

// Init initialises MPI (once per process; later calls return the same
// Comm) and returns MPI_COMM_WORLD. A program started without mpirun is a
// job of one rank.
func Init() (*Comm, error) {
	initMu.Lock()
	defer initMu.Unlock()
	if world != nil {
		if world.finalized {
			return nil, fmt.Errorf("mpi: Init after Finalize")
		}
		return world, nil
	}
	var provided C.int
	if err := mpiError("MPI_Init_thread", C.cm_init(&provided)); err != nil {
		return nil, err
	}
	if provided < C.cm_thread_serialized() {
		return nil, fmt.Errorf("mpi: MPI_Init_thread: the library provides thread level %d; want MPI_THREAD_SERIALIZED (%d)", int(provided), int(C.cm_thread_serialized()))
	}
	var r, s C.int
	if err := mpiError("MPI_Comm_rank", C.cm_rank(&r)); err != nil {
		return nil, err
	}
	if err := mpiError("MPI_Comm_size", C.cm_size(&s)); err != nil {
		return nil, err
	}
	world = &Comm{rank: int(r), size: int(s), Timeout: DefaultTimeout}
	return world, nil
}

// Rank returns this process's rank in [0, Size()).
func (c *Comm) Rank() int { return c.rank }

// Size returns the number of processes of the job.
func (c *Comm) Size() int { return c.size }

// Finalize ends MPI for this process (MPI_Finalize). Every rank must call
// it; no Comm method works afterwards.
func (c *Comm) Finalize() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finalized {
		return fmt.Errorf("mpi: MPI_Finalize called twice")
	}
	c.finalized = true
	return mpiError("MPI_Finalize", C.cm_finalize())
}

// Abort prints msg to standard error (prefixed with the rank) and ends
// every rank of the job with exit status code (MPI_Abort). It does not
// return unless MPI_Abort fails.
func (c *Comm) Abort(code int, msg string) error {
	fmt.Fprintf(os.Stderr, "mpi: rank %d of %d aborts the job: %s\n", c.rank, c.size, msg)
	return mpiError("MPI_Abort", C.cm_abort(C.int(code)))
}

// count checks that n elements fit MPI's int count.
func count(call string, n int) (C.int, error) {
	if n > math.MaxInt32 {
		return 0, fmt.Errorf("mpi: %s: %d elements exceed MPI's int count", call, n)
	}
	return C.int(n), nil
}

// collective starts a non-blocking call with start and polls MPI_Test until
// it completes or the timeout passes. The buffers the call uses must stay
// pinned (they are Go memory passed to C), which pin does for the call.
func (c *Comm) collective(call string, start func(req *C.MPI_Request) C.int, keep ...any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finalized {
		return fmt.Errorf("mpi: %s after MPI_Finalize", call)
	}
	req := (*C.MPI_Request)(C.malloc(C.size_t(unsafe.Sizeof(C.MPI_Request(nil)))))
	defer C.free(unsafe.Pointer(req))
	if err := mpiError(call, start(req)); err != nil {
		return err
	}
	var deadline time.Time
	if c.Timeout > 0 {
		deadline = time.Now().Add(c.Timeout)
	}
	done := (*C.int)(C.malloc(C.size_t(unsafe.Sizeof(C.int(0)))))
	defer C.free(unsafe.Pointer(done))
	// A few quick tests catch a peer that is already there; then the
	// waits back off (20 µs doubling to 1 ms) and leave the core to the
	// other ranks, which may share it.
	wait := time.Duration(0)
	for tries := 0; ; tries++ {
		if err := mpiError(call+" (MPI_Test)", C.cm_test(req, done)); err != nil {
			return err
		}
		if *done != 0 {
			runtime.KeepAlive(keep)
			return nil
		}
		if tries < 64 {
			continue
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return fmt.Errorf("mpi: %s: no completion after %v (a rank failed or stopped?); the communicator is now unusable: Abort", call, c.Timeout)
		}
		wait = min(max(2*wait, 20*time.Microsecond), time.Millisecond)
		time.Sleep(wait)
	}
}

// AllReduceFloat32 replaces buf, on every rank, by the element-wise sum of
// every rank's buf (MPI_Allreduce, MPI_SUM). All ranks pass the same length.
func (c *Comm) AllReduceFloat32(buf []float32) error {
	n, err := count("MPI_Iallreduce", len(buf))
	if err != nil || n == 0 {
		return err
	}
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	return c.collective("MPI_Iallreduce", func(req *C.MPI_Request) C.int {
		return C.cm_iallreduce_f32((*C.float)(unsafe.Pointer(&buf[0])), n, req)
	}, buf)
}

// AllReduceFloat64 is AllReduceFloat32 for float64 buffers.
func (c *Comm) AllReduceFloat64(buf []float64) error {
	n, err := count("MPI_Iallreduce", len(buf))
	if err != nil || n == 0 {
		return err
	}
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	return c.collective("MPI_Iallreduce", func(req *C.MPI_Request) C.int {
		return C.cm_iallreduce_f64((*C.double)(unsafe.Pointer(&buf[0])), n, req)
	}, buf)
}

// AllGatherFloat32 writes every rank's send (same length on every rank)
// into recv in rank order: recv[r·len(send):(r+1)·len(send)] is rank r's.
// recv must hold Size()·len(send) values.
func (c *Comm) AllGatherFloat32(send, recv []float32) error {
	if len(recv) != len(send)*c.size {
		return fmt.Errorf("mpi: MPI_Iallgather: recv has %d values; want %d ranks × %d", len(recv), c.size, len(send))
	}
	n, err := count("MPI_Iallgather", len(recv))
	if err != nil || n == 0 {
		return err
	}
	var pin runtime.Pinner
	pin.Pin(&send[0])
	pin.Pin(&recv[0])
	defer pin.Unpin()
	return c.collective("MPI_Iallgather", func(req *C.MPI_Request) C.int {
		return C.cm_iallgather_f32((*C.float)(unsafe.Pointer(&send[0])), C.int(len(send)), (*C.float)(unsafe.Pointer(&recv[0])), req)
	}, send, recv)
}

// AllGatherFloat64 is AllGatherFloat32 for float64 buffers.
func (c *Comm) AllGatherFloat64(send, recv []float64) error {
	if len(recv) != len(send)*c.size {
		return fmt.Errorf("mpi: MPI_Iallgather: recv has %d values; want %d ranks × %d", len(recv), c.size, len(send))
	}
	n, err := count("MPI_Iallgather", len(recv))
	if err != nil || n == 0 {
		return err
	}
	var pin runtime.Pinner
	pin.Pin(&send[0])
	pin.Pin(&recv[0])
	defer pin.Unpin()
	return c.collective("MPI_Iallgather", func(req *C.MPI_Request) C.int {
		return C.cm_iallgather_f64((*C.double)(unsafe.Pointer(&send[0])), C.int(len(send)), (*C.double)(unsafe.Pointer(&recv[0])), req)
	}, send, recv)
}

// AllGatherInt is AllGatherFloat32 for int labels (sent as 64-bit
// integers).
func (c *Comm) AllGatherInt(send, recv []int) error {
	if len(recv) != len(send)*c.size {
		return fmt.Errorf("mpi: MPI_Iallgather: recv has %d labels; want %d ranks × %d", len(recv), c.size, len(send))
	}
	if len(send) == 0 {
		return nil
	}
	if _, err := count("MPI_Iallgather", len(recv)); err != nil {
		return err
	}
	s := make([]C.longlong, len(send))
	r := make([]C.longlong, len(recv))
	for i, v := range send {
		s[i] = C.longlong(v)
	}
	var pin runtime.Pinner
	pin.Pin(&s[0])
	pin.Pin(&r[0])
	defer pin.Unpin()
	if err := c.collective("MPI_Iallgather", func(req *C.MPI_Request) C.int {
		return C.cm_iallgather_i64(&s[0], C.int(len(send)), &r[0], req)
	}, s, r); err != nil {
		return err
	}
	for i, v := range r {
		recv[i] = int(v)
	}
	return nil
}

// AllGatherVFloat32 gathers rows of width cols whose number differs by rank
// (MPI_Allgatherv): it returns every rank's send, concatenated in rank
// order, and the number of rows each rank sent. len(send) must be a
// multiple of cols.
func (c *Comm) AllGatherVFloat32(send []float32, cols int) ([]float32, []int, error) {
	if cols < 1 || len(send)%cols != 0 {
		return nil, nil, fmt.Errorf("mpi: MPI_Iallgatherv: %d values are not rows of %d columns", len(send), cols)
	}
	if _, err := count("MPI_Iallgatherv", len(send)); err != nil {
		return nil, nil, err
	}
	// First the counts (one int per rank), then the rows.
	counts := make([]C.int, c.size)
	mine := C.int(len(send))
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&mine)
	pin.Pin(&counts[0])
	if err := c.collective("MPI_Iallgather (counts of MPI_Iallgatherv)", func(req *C.MPI_Request) C.int {
		return C.cm_iallgather_int(&mine, &counts[0], req)
	}, &mine, counts); err != nil {
		return nil, nil, err
	}
	displs := make([]C.int, c.size)
	rows := make([]int, c.size)
	total := 0
	for r, n := range counts {
		if n < 0 || int(n)%cols != 0 {
			return nil, nil, fmt.Errorf("mpi: MPI_Iallgatherv: rank %d sends %d values, not rows of %d columns", r, int(n), cols)
		}
		if total+int(n) > math.MaxInt32 {
			return nil, nil, fmt.Errorf("mpi: MPI_Iallgatherv: more than %d values in all", math.MaxInt32)
		}
		displs[r] = C.int(total)
		rows[r] = int(n) / cols
		total += int(n)
	}
	recv := make([]float32, total)
	if total == 0 {
		return recv, rows, nil
	}
	var dummy float32
	sp := &dummy
	if len(send) > 0 {
		sp = &send[0]
	}
	pin.Pin(sp)
	pin.Pin(&recv[0])
	pin.Pin(&displs[0])
	err := c.collective("MPI_Iallgatherv", func(req *C.MPI_Request) C.int {
		return C.cm_iallgatherv_f32((*C.float)(unsafe.Pointer(sp)), mine, (*C.float)(unsafe.Pointer(&recv[0])), &counts[0], &displs[0], req)
	}, sp, recv, counts, displs)
	if err != nil {
		return nil, nil, err
	}
	return recv, rows, nil
}

// BroadcastFloat32 copies root's buf into every other rank's buf
// (MPI_Bcast); all ranks pass the same length.
func (c *Comm) BroadcastFloat32(buf []float32, root int) error {
	if root < 0 || root >= c.size {
		return fmt.Errorf("mpi: MPI_Ibcast: root %d is not a rank of %d", root, c.size)
	}
	n, err := count("MPI_Ibcast", len(buf))
	if err != nil || n == 0 {
		return err
	}
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	return c.collective("MPI_Ibcast", func(req *C.MPI_Request) C.int {
		return C.cm_ibcast_f32((*C.float)(unsafe.Pointer(&buf[0])), n, C.int(root), req)
	}, buf)
}

// BroadcastFloat64 is BroadcastFloat32 for float64 buffers.
func (c *Comm) BroadcastFloat64(buf []float64, root int) error {
	if root < 0 || root >= c.size {
		return fmt.Errorf("mpi: MPI_Ibcast: root %d is not a rank of %d", root, c.size)
	}
	n, err := count("MPI_Ibcast", len(buf))
	if err != nil || n == 0 {
		return err
	}
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	return c.collective("MPI_Ibcast", func(req *C.MPI_Request) C.int {
		return C.cm_ibcast_f64((*C.double)(unsafe.Pointer(&buf[0])), n, C.int(root), req)
	}, buf)
}
