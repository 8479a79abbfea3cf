//go:build !mpi

package main

// startJob returns the single process: this build has no MPI (build with
// -tags mpi for distributed training).
func startJob() (job, error) { return singleProcess(), nil }
