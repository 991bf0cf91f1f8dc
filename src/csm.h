/*
 * csm.h: declarations shared by csm's C files.
 */
#ifndef CSM_H
#define CSM_H

/* csm.compact_threshold: usage deltas a backend appends before it folds them. */
extern int	csm_compact_threshold;

/* csm.stale_after: seconds after which a health score is flagged stale. */
extern int	csm_stale_after;

#endif							/* CSM_H */
