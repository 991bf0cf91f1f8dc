/*
 * compat.h: differences between the PostgreSQL major versions csm builds on.
 */
#ifndef CSM_COMPAT_H
#define CSM_COMPAT_H

#include "miscadmin.h"

/* PostgreSQL 17 renamed the backend slot number. */
#if PG_VERSION_NUM >= 170000
#include "storage/procnumber.h"
#define CSM_BACKEND_SLOT() ((int) MyProcNumber)
#else
#include "storage/backendid.h"
#define CSM_BACKEND_SLOT() ((int) MyBackendId)
#endif

#endif							/* CSM_COMPAT_H */
