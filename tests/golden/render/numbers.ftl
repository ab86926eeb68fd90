<#setting datetime_format="yyyy-MM-dd HH:mm:ss.S">${input.event_time?datetime?string["dd.MM.yyyy, HH:mm"]} ${input.event_time?datetime?long} ${input.price} ${input.price * 3}
