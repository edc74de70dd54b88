/* Data-parallel runs over MPI (see dist.h). */
#define _POSIX_C_SOURCE 200809L
#include "dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef LSTMCL_HAVE_MPI
#include <mpi.h>
#endif

#ifdef LSTMCL_HAVE_MPI
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
#endif

/* The size an MPI launcher gave this process's run, or 0 when none did. */
static long launched_size(void)
{
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE",
                                 "MPI_LOCALNRANKS"};
    size_t i;
    for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return strtol(v, NULL, 10);
    }
    return getenv("PMIX_RANK") || getenv("PMI_RANK") ? 1 : 0;
}

int dist_init(dist *d, int *argc, char ***argv, char *err, size_t errlen)
{
    const long launched = launched_size();
    memset(d, 0, sizeof *d);
    d->size = d->local_size = 1;
    if (gethostname(d->host, sizeof d->host - 1) != 0)
        snprintf(d->host, sizeof d->host, "localhost");
#ifdef LSTMCL_HAVE_MPI
    if (launched > 0) {
        MPI_Comm local;
        int len = 0;
        char name[MPI_MAX_PROCESSOR_NAME];
        if (MPI_Init(argc, argv) != MPI_SUCCESS) {
            snprintf(err, errlen, "MPI_Init failed");
            return -1;
        }
        d->mpi = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &d->size);
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local);
        MPI_Comm_rank(local, &d->local_rank);
        MPI_Comm_size(local, &d->local_size);
        MPI_Comm_free(&local);
        if (MPI_Get_processor_name(name, &len) == MPI_SUCCESS && len > 0)
            snprintf(d->host, sizeof d->host, "%s", name);
    }
    return 0;
#else
    (void)argc, (void)argv;
    if (launched > 1) {
        snprintf(err, errlen,
                 "this lstmcl-train was built without MPI, but a launcher started %ld copies "
                 "of it; rebuild with Open MPI (libopenmpi-dev) to train on several processes",
                 launched);
        return -1;
    }
    return 0;
#endif
}

void dist_finalize(dist *d)
{
#ifdef LSTMCL_HAVE_MPI
    if (d->mpi)
        MPI_Finalize();
#endif
    free(d->recv);
    free(d->counts);
    free(d->displs);
    free(d->rcounts);
    free(d->rdispls);
    free(d->losses);
    d->recv = NULL, d->counts = d->displs = d->rcounts = d->rdispls = NULL, d->losses = NULL;
    d->mpi = 0;
}

void dist_abort(dist *d, int code)
{
    fflush(stdout);
    fflush(stderr);
#ifdef LSTMCL_HAVE_MPI
    if (d->mpi && d->size > 1)
        MPI_Abort(MPI_COMM_WORLD, code);
#endif
    dist_finalize(d);
    exit(code);
}

int dist_all_ok(dist *d, int ok)
{
#ifdef LSTMCL_HAVE_MPI
    if (d->mpi && d->size > 1) {
        int mine = ok != 0, all = 0;
        if (MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS)
            return 0;
        return all;
    }
#endif
    (void)d;
    return ok != 0;
}

int dist_sum_gradients(void *user, float *g, size_t P, double *loss_sum, char *err,
                       size_t errlen)
{
    dist *d = user;
    if (d->size <= 1)
        return 0;
#ifdef LSTMCL_HAVE_MPI
    {
        const int K = d->size, r = d->rank;
        const double t0 = now();
        size_t share, i;
        int k;
        if (P > (size_t)INT_MAX) {
            snprintf(err, errlen, "%zu parameters: more than MPI's counts can hold", P);
            return -1;
        }
        /* rank k owns the slice [P·k/K, P·(k+1)/K) of the gradient */
        if (d->counts_P != P || !d->counts) {
            free(d->counts), free(d->displs), free(d->rcounts), free(d->rdispls), free(d->losses);
            d->counts = malloc((size_t)K * sizeof *d->counts);
            d->displs = malloc((size_t)K * sizeof *d->displs);
            d->rcounts = malloc((size_t)K * sizeof *d->rcounts);
            d->rdispls = malloc((size_t)K * sizeof *d->rdispls);
            d->losses = malloc((size_t)K * sizeof *d->losses);
            d->counts_P = 0;
            if (!d->counts || !d->displs || !d->rcounts || !d->rdispls || !d->losses) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            for (k = 0; k < K; k++) {
                const size_t lo = P * (size_t)k / (size_t)K, hi = P * (size_t)(k + 1) / (size_t)K;
                d->displs[k] = (int)lo, d->counts[k] = (int)(hi - lo);
            }
            for (k = 0; k < K; k++) /* this rank's share, from every rank, one after another */
                d->rcounts[k] = d->counts[r], d->rdispls[k] = k * d->counts[r];
            d->counts_P = P;
        }
        share = (size_t)d->counts[r];
        if (d->recv_cap < (size_t)K * share + 1) {
            free(d->recv);
            d->recv_cap = (size_t)K * share + 1;
            d->recv = malloc(d->recv_cap * sizeof *d->recv);
            if (!d->recv) {
                d->recv_cap = 0;
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
        /* reduce-scatter: every rank sends each owner its slice, and the
         * owner adds the K copies in rank order */
        if (MPI_Alltoallv(g, d->counts, d->displs, MPI_FLOAT, d->recv, d->rcounts, d->rdispls,
                          MPI_FLOAT, MPI_COMM_WORLD) != MPI_SUCCESS) {
            snprintf(err, errlen, "MPI_Alltoallv failed");
            return -1;
        }
        for (i = 0; i < share; i++) {
            float s = d->recv[i];
            for (k = 1; k < K; k++)
                s += d->recv[(size_t)k * share + i];
            d->recv[i] = s;
        }
        /* all-gather the summed slices: every rank ends with the same bits */
        if (MPI_Allgatherv(d->recv, (int)share, MPI_FLOAT, g, d->counts, d->displs, MPI_FLOAT,
                           MPI_COMM_WORLD) != MPI_SUCCESS) {
            snprintf(err, errlen, "MPI_Allgatherv failed");
            return -1;
        }
        if (MPI_Allgather(loss_sum, 1, MPI_DOUBLE, d->losses, 1, MPI_DOUBLE, MPI_COMM_WORLD) !=
            MPI_SUCCESS) {
            snprintf(err, errlen, "MPI_Allgather of the losses failed");
            return -1;
        }
        *loss_sum = 0;
        for (k = 0; k < K; k++)
            *loss_sum += d->losses[k];
        d->seconds += now() - t0;
        d->exchanges++;
        return 0;
    }
#else
    (void)g, (void)P, (void)loss_sum;
    snprintf(err, errlen, "built without MPI");
    return -1;
#endif
}

int dist_gather_bytes(dist *d, const void *mine, size_t bytes, void *all)
{
    if (d->size <= 1) {
        memcpy(all, mine, bytes);
        return 0;
    }
#ifdef LSTMCL_HAVE_MPI
    if (bytes > (size_t)INT_MAX)
        return -1;
    return MPI_Gather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, 0,
                      MPI_COMM_WORLD) == MPI_SUCCESS
               ? 0
               : -1;
#else
    return -1;
#endif
}

int dist_gather_floats(dist *d, const float *mine, size_t n, float *all)
{
    return dist_gather_bytes(d, mine, n * sizeof *mine, all);
}
