/* Reconnect pacing (svc/backoff.h), alone and shared between connections. */
#include <criterion/criterion.h>

#include "svc/backoff.h"

Test(backoff, a_failure_waits_and_the_wait_doubles_up_to_the_limit)
{
	backoff b;
	backoff_init(&b, 1000, 3000);
	cr_assert(backoff_ready(&b), "no failure yet");
	backoff_failed(&b);
	cr_assert_not(backoff_ready(&b), "waits after a failure");
	cr_assert_eq(b.current_ms, 1000);
	backoff_failed(&b);
	backoff_failed(&b);
	cr_assert_eq(b.current_ms, 3000, "doubles, capped at max_ms");
	backoff_succeeded(&b);
	cr_assert(backoff_ready(&b), "a success resets it");
	cr_assert_eq(b.current_ms, 0);
}

Test(backoff, a_peer_that_got_through_ends_the_wait_of_the_others)
{
	_Atomic uint64_t successes = 0;
	backoff waiting, peer, alone;
	backoff_init(&waiting, 60000, 60000);
	backoff_init(&peer, 60000, 60000);
	backoff_init(&alone, 60000, 60000);
	backoff_share(&waiting, &successes);
	backoff_share(&peer, &successes);
	backoff_failed(&waiting);
	backoff_failed(&peer);
	backoff_failed(&alone);
	cr_assert_not(backoff_ready(&waiting), "both wait a minute while the server is down");
	cr_assert_not(backoff_ready(&peer));
	backoff_succeeded(&peer); /* the server is back: the peer got through */
	cr_assert(backoff_ready(&waiting), "so the other tries at once");
	cr_assert_not(backoff_ready(&alone), "a connection that shares nothing still waits");
	backoff_failed(&waiting); /* it tried and failed again: wait anew */
	cr_assert_not(backoff_ready(&waiting));
}

Test(backoff, a_peer_success_during_a_failing_attempt_still_counts)
{
	_Atomic uint64_t successes = 0;
	backoff slow, quick;
	backoff_init(&slow, 60000, 60000);
	backoff_init(&quick, 60000, 60000);
	backoff_share(&slow, &successes);
	backoff_share(&quick, &successes);
	backoff_attempt(&slow);    /* slow starts connecting while the server is down */
	backoff_succeeded(&quick); /* meanwhile the server came back: quick got through */
	backoff_failed(&slow);     /* slow's attempt, started earlier, fails */
	cr_assert(backoff_ready(&slow), "the server is back: no minute's wait");
}

Test(backoff, a_connection_lost_outside_an_attempt_waits_for_a_later_success)
{
	_Atomic uint64_t successes = 0;
	backoff lost, peer;
	backoff_init(&lost, 60000, 60000);
	backoff_init(&peer, 60000, 60000);
	backoff_share(&lost, &successes);
	backoff_share(&peer, &successes);
	backoff_succeeded(&peer); /* an old success, before the loss */
	backoff_failed(&lost);    /* lost mid-statement, not while connecting */
	cr_assert_not(backoff_ready(&lost), "an earlier success says nothing about now");
}
