// The calls a test asks a client to make, in order: [tool, args]; ["__list__"] lists the tools, ["__resources__"]
// the resources and templates, ["__read__", {uri}] reads one, ["__prompts__"] lists the prompts and
// ["__prompt__", {name, arguments}] gets one.
export async function runCalls(client, calls) {
  const results = [];
  for (const [name, args] of calls) {
    if (name === "__list__") {
      results.push({ tools: (await client.listTools()).tools.map((tool) => tool.name) });
    } else if (name === "__resources__") {
      const resources = (await client.listResources()).resources.map((resource) => resource.uri);
      const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
      results.push({ resources, templates });
    } else if (name === "__read__") {
      results.push({ text: (await client.readResource({ uri: args.uri })).contents[0].text });
    } else if (name === "__prompts__") {
      results.push({ prompts: (await client.listPrompts()).prompts.map((prompt) => prompt.name) });
    } else if (name === "__prompt__") {
      results.push({ text: (await client.getPrompt(args)).messages[0].content.text });
    } else {
      const result = await client.callTool({ name, arguments: args || {} });
      results.push({ isError: Boolean(result.isError), text: result.content?.[0]?.text ?? "",
                     structured: result.structuredContent ?? null });
    }
  }
  return results;
}
