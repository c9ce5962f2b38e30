// The dashboard's page (dashboard_page.html), embedded in the binary by a
// genrule in this folder's BUILD.bazel.

#ifndef SLACKER_TOOLS_DASHBOARD_DASHBOARD_PAGE_H_
#define SLACKER_TOOLS_DASHBOARD_DASHBOARD_PAGE_H_

namespace slacker::dashboard {

// The whole HTML document, NUL-terminated.
extern const char kDashboardPage[];

}  // namespace slacker::dashboard

#endif  // SLACKER_TOOLS_DASHBOARD_DASHBOARD_PAGE_H_
