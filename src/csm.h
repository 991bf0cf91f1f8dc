/*
 * csm.h: declarations shared by csm's C files.
 */
#ifndef CSM_H
#define CSM_H

/* csm.rollup_stripes: how many counter rows concurrent writers spread over. */
extern int	csm_rollup_stripes;

#endif							/* CSM_H */
