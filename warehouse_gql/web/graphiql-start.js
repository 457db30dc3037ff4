// GraphiQL for this server: queries and mutations over HTTP POST to this page's URL,
// subscriptions over graphql-transport-ws on the same path. The query, variables and headers
// are kept in the URL's query string so a link shares them.
(function () {
  "use strict";

  const here = new URL(window.location.href);
  const endpoint = here.origin + here.pathname;
  const socket = new URL(endpoint);
  socket.protocol = socket.protocol === "https:" ? "wss:" : "ws:";

  const parameters = Object.fromEntries(here.searchParams.entries());

  function remember(changes) {
    Object.assign(parameters, changes);
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(parameters)) {
      if (value) search.set(key, value);
    }
    const text = search.toString();
    window.history.replaceState(null, "", text ? "?" + text : here.pathname);
  }

  const fetcher = GraphiQL.createFetcher({
    url: endpoint,
    subscriptionUrl: socket.toString(),
  });

  const defaultQuery = [
    "# warehouse-gql: log in, then put the token in the Headers tab as",
    '#   {"Authorization": "Bearer <token>"}',
    "#",
    '# mutation { logIn(username: "boss", password: "…") { token user { role } } }',
    "",
    "{ me { username role } }",
    "",
  ].join("\n");

  function App() {
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      query: parameters.query,
      variables: parameters.variables,
      onEditQuery: (query) => remember({ query: query }),
      onEditVariables: (variables) => remember({ variables: variables }),
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
})();
