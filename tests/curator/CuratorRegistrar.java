// The JVM side of curator_read_interop_test, compiled at test time against
// Debian's Curator jars (libcurator-discovery-java).
//
//   java CuratorRegistrar register <connect> <base path> <service> <session ms> <id>:<port>:<kind>...
//     Registers each instance with Curator's ServiceDiscovery<Object>
//     (address 127.0.0.1, uriSpec "{scheme}://{address}:{port}") and a
//     payload of <kind>: "string" (a String), "map" (a LinkedHashMap holding
//     a Long past 2^53), "long" (a Long). Prints "REGISTERED <id>" for each,
//     then "READY", and keeps the session until killed (SIGTERM unregisters,
//     SIGKILL leaves the nodes to the session timeout).
//
//   java CuratorRegistrar list <connect> <base path> <service>
//     Prints one line per instance that queryForInstances returns,
//       INSTANCE <id> <payload class> <payload as JSON> <same|differ> <uri>
//     ("same" when Curator's serializer writes the node's bytes back
//     unchanged), then "DONE <count>".

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.utils.ZKPaths;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.UriSpec;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;

public final class CuratorRegistrar {
  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      System.err.println("usage: see CuratorRegistrar.java");
      System.exit(2);
    }
    final String mode = args[0];
    final String basePath = args[2];
    final String service = args[3];
    final int sessionMs = mode.equals("register") ? Integer.parseInt(args[4]) : 10000;
    CuratorFramework client =
        CuratorFrameworkFactory.builder()
            .connectString(args[1])
            .sessionTimeoutMs(sessionMs)
            .connectionTimeoutMs(15000)
            .retryPolicy(new ExponentialBackoffRetry(100, 10))
            .build();
    client.start();
    if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
      System.out.println("ERROR cannot connect to " + args[1]);
      System.exit(1);
    }
    JsonInstanceSerializer<Object> serializer = new JsonInstanceSerializer<>(Object.class);
    ServiceDiscovery<Object> discovery =
        ServiceDiscoveryBuilder.builder(Object.class)
            .client(client)
            .basePath(basePath)
            .serializer(serializer)
            .build();
    discovery.start();

    if (mode.equals("list")) {
      ObjectMapper json = new ObjectMapper();
      int count = 0;
      for (ServiceInstance<Object> instance : discovery.queryForInstances(service)) {
        byte[] stored =
            client.getData().forPath(ZKPaths.makePath(ZKPaths.makePath(basePath, service), instance.getId()));
        byte[] curators = serializer.serialize(serializer.deserialize(stored));
        Object payload = instance.getPayload();
        System.out.println(
            "INSTANCE " + instance.getId()
                + " " + (payload == null ? "null" : payload.getClass().getName())
                + " " + json.writeValueAsString(payload)
                + " " + (Arrays.equals(stored, curators) ? "same" : "differ")
                + " " + (instance.getUriSpec() == null ? "-" : instance.buildUriSpec()));
        ++count;
      }
      System.out.println("DONE " + count);
      System.out.flush();
      discovery.close();
      client.close();
      return;
    }

    for (int i = 5; i < args.length; ++i) {
      String[] spec = args[i].split(":");
      Object payload;
      switch (spec[2]) {
        case "string":
          payload = "hello \"jvm\" \u00e9";
          break;
        case "map":
          Map<String, Object> map = new LinkedHashMap<>();
          map.put("zone", "a");
          map.put("big", 9007199254740993L);
          payload = map;
          break;
        default:
          payload = 5000000000L;
      }
      discovery.registerService(
          ServiceInstance.builder()
              .name(service)
              .id(spec[0])
              .address("127.0.0.1")
              .port(Integer.parseInt(spec[1]))
              .payload(payload)
              .uriSpec(new UriSpec("{scheme}://{address}:{port}"))
              .build());
      System.out.println("REGISTERED " + spec[0]);
    }
    System.out.println("READY");
    System.out.flush();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        discovery.close();
      } catch (Exception e) {
        // Exiting anyway; the session's end removes the nodes.
      }
      client.close();
    }));
    Thread.sleep(Long.MAX_VALUE);
  }
}
