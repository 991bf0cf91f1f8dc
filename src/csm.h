/*
 * csm.h: declarations shared by csm's C files.
 */
#ifndef CSM_H
#define CSM_H

/* csm.compact_threshold: usage deltas a backend appends before it folds them. */
extern int	csm_compact_threshold;

#endif							/* CSM_H */
