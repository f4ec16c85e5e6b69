// The calls a test asks a client to make, in order: [tool, args], or ["__list__"] to list the tools.
export async function runCalls(client, calls) {
  const results = [];
  for (const [name, args] of calls) {
    if (name === "__list__") {
      results.push({ tools: (await client.listTools()).tools.map((tool) => tool.name) });
    } else {
      const result = await client.callTool({ name, arguments: args || {} });
      results.push({ isError: Boolean(result.isError), text: result.content?.[0]?.text ?? "" });
    }
  }
  return results;
}
