"""Rate limits of "Create your school" (``schools.web``): per client IP, in the platform's
buckets (public schema), with the rate ``school_signup_ip`` of
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (default 10/h). Both forms count: the sign-up (it
sends a mail) and the confirmation of a verified link (it makes a school)."""

from enrollment.throttles import LoginIpThrottle


class SchoolSignupIpThrottle(LoginIpThrottle):
    """ "Create your school" form posts per client IP (REMOTE_ADDR, or X-Forwarded-For with
    NUM_PROXIES, as every rate limit)."""

    scope = "school_signup_ip"


SIGNUP_THROTTLES = (SchoolSignupIpThrottle,)
