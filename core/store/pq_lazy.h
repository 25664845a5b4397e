#ifndef SUMMIT_STORE_PQ_LAZY_H
#define SUMMIT_STORE_PQ_LAZY_H
/* libpq, loaded with dlopen when a PostgreSQL store is opened instead of
 * linked: linked, its ~24 dependencies (OpenSSL, Kerberos, LDAP, GnuTLS)
 * cost every summit process ~10 million instructions of dynamic linking
 * before main(), SQLite stores included (docs/performance.md). Only
 * core/store/pg.c includes this header instead of <libpq-fe.h>: the PQ*
 * names below become calls through the table pq_lazy_load() fills. */
#include <libpq-fe.h>

#define PQ_LAZY_FUNCS(X)                                                     \
  X(clear) X(status) X(resultStatus) X(getvalue) X(getisnull) X(finish)      \
  X(errorMessage) X(exec) X(setNoticeProcessor) X(resultErrorMessage)        \
  X(resultErrorField) X(prepare) X(ntuples) X(nfields) X(freemem)            \
  X(execPrepared) X(conninfoParse) X(conninfoFree) X(connectdbParams)        \
  X(cmdTuples) X(escapeLiteral)

#define PQ_LAZY_FIELD(name) __typeof__(PQ##name) *name;
struct pq_lazy_api {
  PQ_LAZY_FUNCS(PQ_LAZY_FIELD)
};
#undef PQ_LAZY_FIELD
extern struct pq_lazy_api pq_lazy;

/* Loads libpq once per process (thread safe). NULL when usable, else why
 * not ("libpq cannot be loaded: <dlerror>"). Every PQ* call must come
 * after a NULL return. */
const char *pq_lazy_load(void);

#define PQclear pq_lazy.clear
#define PQstatus pq_lazy.status
#define PQresultStatus pq_lazy.resultStatus
#define PQgetvalue pq_lazy.getvalue
#define PQgetisnull pq_lazy.getisnull
#define PQfinish pq_lazy.finish
#define PQerrorMessage pq_lazy.errorMessage
#define PQexec pq_lazy.exec
#define PQsetNoticeProcessor pq_lazy.setNoticeProcessor
#define PQresultErrorMessage pq_lazy.resultErrorMessage
#define PQresultErrorField pq_lazy.resultErrorField
#define PQprepare pq_lazy.prepare
#define PQntuples pq_lazy.ntuples
#define PQnfields pq_lazy.nfields
#define PQfreemem pq_lazy.freemem
#define PQexecPrepared pq_lazy.execPrepared
#define PQconninfoParse pq_lazy.conninfoParse
#define PQconninfoFree pq_lazy.conninfoFree
#define PQconnectdbParams pq_lazy.connectdbParams
#define PQcmdTuples pq_lazy.cmdTuples
#define PQescapeLiteral pq_lazy.escapeLiteral

#endif
