package main

import "github.com/contrastive-go/contrastive/models"

// job is the set of processes this run belongs to: one process, or the
// ranks of an MPI job when the command is built with -tags mpi and started
// by mpirun (job_mpi.go).
type job struct {
	comm       models.Comm // nil for one process
	rank, size int
	// end finishes the job: on success it finalises MPI; on failure it
	// ends every rank of the job with err (MPI_Abort), so no rank waits for
	// one that has failed.
	end func(err error) error
}

func singleProcess() job {
	return job{size: 1, end: func(err error) error { return err }}
}
