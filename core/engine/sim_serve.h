#ifndef SUMMIT_ENGINE_SIM_SERVE_H
#define SUMMIT_ENGINE_SIM_SERVE_H
/* summit sim serve: the simulated Kubernetes API server (lua/summit/sim)
 * standalone, until SIGINT or SIGTERM. */

typedef struct {
  const char *host;         /* listen address, "127.0.0.1" */
  int port;                 /* 0: an ephemeral port */
  const char *state_file;   /* NULL: state in memory only */
  const char *scenario;     /* a .json or .lua scenario file, or NULL */
  const char *kubeconfig;   /* where to write a kubeconfig, or NULL */
  const char *state_dir;
  double time_scale;        /* simulated seconds per real second */
  int verbose;              /* one stderr line per request */
} sim_serve_opts;

/* Serves until a signal; returns 0 after a clean stop (every handle
 * closed), 1 when the sim cannot start or did not stop cleanly. */
int engine_sim_serve(const sim_serve_opts *o);

#endif
