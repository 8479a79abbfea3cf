// Package mpi is a thin cgo binding to Open MPI for data-parallel training
// across processes (and machines). It is built only with the mpi build tag
// (go build -tags mpi), so the default build of the module stays pure Go;
// without the tag the package is empty.
//
// It needs the Open MPI headers and library (Debian: libopenmpi-dev,
// openmpi-bin and pkg-config) and is found through pkg-config (ompi-c).
//
// What it offers, on MPI_COMM_WORLD:
//
//   - Init / Comm.Finalize: MPI_Init_thread (MPI_THREAD_SERIALIZED; every
//     call is serialised by the package) and MPI_Finalize.
//   - Comm.Rank, Comm.Size.
//   - AllReduceFloat32/64: in-place element-wise sum over ranks.
//   - AllGatherFloat32/64, AllGatherInt: every rank's equal-length buffer,
//     concatenated in rank order; AllGatherVFloat32 for rows whose count
//     differs by rank (MPI_Allgatherv).
//   - BroadcastFloat32/64: root's buffer to every rank.
//   - Abort: MPI_Abort, which ends every rank of the job.
//
// A Comm satisfies models.Comm, the communicator of distributed training
// (models.TrainConfig.Comm).
//
// Errors. MPI errors are returned (the package sets MPI_ERRORS_RETURN on
// the communicator) as Go errors that name the call and carry MPI's error
// string: "mpi: MPI_Allreduce: MPI_ERR_COUNT: invalid count argument".
// Collectives run as non-blocking MPI calls polled until they complete or
// Comm.Timeout passes; a rank that has failed or stopped then makes the
// others return "mpi: MPI_Iallgather: no completion after 2m0s (a rank
// failed or stopped?)" instead of hanging. The caller should then Abort,
// which ends the whole job with that message: a request that timed out is
// still pending and the communicator is unusable.
//
// Running under mpirun as root needs --allow-run-as-root (or
// OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1), and more
// processes than cores needs --oversubscribe.
package mpi
