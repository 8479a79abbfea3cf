package gemm

// The kernels in use, chosen once at start-up: the first (fastest) one
// that this CPU runs. Tests swap them with useKernels.
var (
	active32 = kernels32()[0]
	active64 = kernels64()[0]
)

func kernel32() *kernel[float32] { return active32 }
func kernel64() *kernel[float64] { return active64 }

// Kernel names the micro-kernels in use for float32 and float64, for
// example "avx512-24x16" and "avx512-24x8", or "go4x4" for the portable
// Go path.
func Kernel() (float32Kernel, float64Kernel string) { return active32.name, active64.name }
