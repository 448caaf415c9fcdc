/*
 * What an ipckit listener's owner record (src/core/owner.h,
 * owner_file.h) says of a queue or FIFO in the inventory: the same words
 * for every kind that has one.
 */
#include "objects.h"
#include "../core/owner.h"

#include <stdio.h>

bool ipk__obj_owner_says(struct ipk__obj *o, enum ipk__owner_state owner,
                         const struct ipk__owner *rec)
{
	ipk_object *p = &o->pub;
	if (owner == IPK__OWNER_NONE)
		return false;
	/* a pid of another pid namespace cannot be looked up here */
	bool foreign = ipk__owner_foreign(rec);
	if (rec->pid > 0) {
		p->creator.pid = rec->pid;
		p->creator.state = foreign                     ? IPK_PID_UNKNOWN
		                   : owner == IPK__OWNER_ALIVE ? IPK_PID_ALIVE
		                                               : IPK_PID_DEAD;
	}
	if (p->nholders > 0)
		return false; /* ipk__obj_judge: live */
	if (foreign) {
		p->state = IPK_OBJ_UNKNOWN;
		snprintf(o->why, sizeof o->why, "its listener, pid %d, was recorded "
		         "in another pid namespace: cannot tell whether it runs",
		         (int)rec->pid);
		return true;
	}
	if (owner == IPK__OWNER_ALIVE) {
		p->state = IPK_OBJ_LIVE;
		snprintf(o->why, sizeof o->why, "its listener, pid %d, is alive",
		         (int)rec->pid);
		return true;
	}
	return false;
}

void ipk__queue_owner_why(struct ipk__obj *o, const struct ipk__owner *rec,
                          const char *also)
{
	long long n = o->pub.messages;
	if (rec->pid > 0)
		snprintf(o->why, sizeof o->why, "its listener, pid %d, is gone%s%s",
		         (int)rec->pid, also,
		         rec->persist ? "; kept with ?persist" : "");
	else if (rec->persist)
		snprintf(o->why, sizeof o->why,
		         "its listener closed it and kept it (?persist)");
	else if (n > 0)
		/* ipk__owner_keeps: a listener that took over a dead one's queue
		   leaves it while messages are unread; nobody kept it on purpose */
		snprintf(o->why, sizeof o->why,
		         "left by a listener that took it over, with %lld unread "
		         "message%s (not ?persist)", n, n == 1 ? "" : "s");
	else
		snprintf(o->why, sizeof o->why,
		         "left by a listener that took it over while messages were "
		         "unread (not ?persist)");
}
