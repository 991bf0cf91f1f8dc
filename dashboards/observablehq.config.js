// The reference dashboard for csm (issue 15, section 4): five pages over the
// five dashboard views.  `make dashboards` builds it against the demo
// database (PGHOST, PGPORT, PGDATABASE); the data loaders in src/data are
// psql COPY calls, run once per build.
export default {
  title: "csm",
  root: "src",
  output: "dist",
  pages: [
    {name: "Executive summary", path: "/index"},
    {name: "Portfolio", path: "/portfolio"},
    {name: "Activity", path: "/activity"},
    {name: "Outcomes", path: "/outcomes"},
    {name: "Operations", path: "/operations"}
  ],
  footer: "csm reference dashboard: the csm.dashboard_* views, read by psql at build time.",
  search: false,
  preserveExtension: true,  // links end in .html, so any static file server (python3 -m http.server) serves them
  sidebar: true,
  pager: false
};
