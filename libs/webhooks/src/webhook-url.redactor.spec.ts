import { redactWebhookUrl } from './webhook-url.redactor';

describe('redactWebhookUrl', () => {
  it('drops userinfo, query and fragment and keeps scheme, host, port and path', () => {
    expect(
      redactWebhookUrl('https://user:pa%40ss@hooks.example.com:8443/in/vigil?token=abc#x'),
    ).toBe('https://hooks.example.com:8443/in/vigil');
    expect(redactWebhookUrl('http://127.0.0.1:9000/')).toBe('http://127.0.0.1:9000/');
  });

  it('never echoes an unparsable URL, which may hold anything', () => {
    expect(redactWebhookUrl('not a url secret=1')).toBe('(invalid url)');
  });
});
