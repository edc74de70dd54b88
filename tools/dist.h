/* The processes of a data-parallel lstmcl-train run, over MPI (Open MPI's
 * mpirun).  Without MPI support, or when not started by mpirun, a run is
 * one process and every operation below is trivial.  Every collective
 * operation is deterministic: the gradient sum adds the processes' parts in
 * rank order, whatever the order their messages arrive in. */
#ifndef LSTMCL_DIST_H
#define LSTMCL_DIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int rank, size;             /* in the run */
    int local_rank, local_size; /* among the run's processes on this machine */
    int mpi;                    /* MPI is initialised */
    char host[256];
    double seconds;             /* spent in the gradient exchange's MPI calls */
    unsigned long exchanges;
    float *recv;                /* size × this rank's share of the gradient */
    size_t recv_cap;
    int *counts, *displs;       /* per rank: its share of the gradient, and where it starts */
    int *rcounts, *rdispls;     /* per rank: what this rank receives of its share */
    double *losses;             /* per rank: its loss sum */
    size_t counts_P;            /* the P that counts and displs were made for */
} dist;

/* Starts MPI when the process was started by mpirun (or another MPI
 * launcher), else makes a one-process run.  0, or -1 with a message in err
 * (this build has no MPI but mpirun started several processes). */
int dist_init(dist *d, int *argc, char ***argv, char *err, size_t errlen);
void dist_finalize(dist *d);
/* Ends every process of the run with this status (MPI_Abort), never
 * returning; without MPI, exit(code). */
void dist_abort(dist *d, int code);
/* 1 when ok is non-zero in every process, else 0; every process gets the
 * same answer.  Used where a failure may hit some processes only. */
int dist_all_ok(dist *d, int ok);
/* charlm_exchange_fn: replaces grads (P floats) and *loss_sum by their sums
 * over all processes, reduced in a fixed order. */
int dist_sum_gradients(void *user, float *grads, size_t P, double *loss_sum, char *err,
                       size_t errlen);
/* Process 0 receives every process's n floats, in rank order, in all
 * (size × n floats; only read on process 0).  0, or -1. */
int dist_gather_floats(dist *d, const float *mine, size_t n, float *all);
/* Process 0 receives every process's `bytes` bytes, in rank order. */
int dist_gather_bytes(dist *d, const void *mine, size_t bytes, void *all);

#endif
