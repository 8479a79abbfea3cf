//go:build mpi

package main

import (
	"fmt"

	"github.com/contrastive-go/contrastive/models/mpi"
)

// startJob initialises MPI: under mpirun -np N this process is one of N
// ranks; started alone it is a job of one.
func startJob() (job, error) {
	c, err := mpi.Init()
	if err != nil {
		return job{}, err
	}
	j := job{comm: c, rank: c.Rank(), size: c.Size()}
	j.end = func(err error) error {
		if err != nil && c.Size() > 1 {
			if aerr := c.Abort(1, fmt.Sprintf("mnist-triplet: %v", err)); aerr != nil {
				return fmt.Errorf("%w (and %v)", err, aerr)
			}
		}
		if ferr := c.Finalize(); err == nil {
			err = ferr
		}
		return err
	}
	return j, nil
}
